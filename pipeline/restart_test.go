package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/testenv"
)

// Entries a consumer read but never finished (a crash) are handled after a
// restart under the same name, and claimed by another consumer once idle.
func TestPendingEntriesAreResumedAndClaimed(t *testing.T) {
	h := newHarness(t, options{cfg: func(c *Config) {
		c.Consumer = "restarted"
		c.Subscriber.ClaimInterval = 20 * time.Millisecond
		c.Subscriber.ClaimMinIdle = 50 * time.Millisecond
	}})
	h.stop()
	ctx := context.Background()
	h.upsert("own", "a1", "main", "k1", 1, `{}`)
	h.upsert("orphan", "a2", "main", "k2", 1, `{}`)
	read := func(consumer string) {
		if _, err := h.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: consumer, Streams: []string{h.keys.Events, ">"}, Count: 1}).Result(); err != nil {
			t.Fatal(err)
		}
	}
	read("restarted") // read before the crash, by the consumer that restarts
	read("gone")      // read by a consumer that never comes back
	// Trimmed while pending: acked without being handled.
	tid := h.upsert("trimmed", "a3", "main", "k3", 1, `{}`)
	read("restarted")
	h.rdb.XDel(ctx, h.keys.Events, tid)

	p, err := New(h.p.cfg, h.rdb, h.sender)
	if err != nil {
		t.Fatal(err)
	}
	h.p = p
	h.run()
	h.waitSteps("own", "delivered")
	h.waitSteps("orphan", "delivered")
	testenv.WaitFor(t, 10*time.Second, "no entry pending", func() bool {
		n, _ := h.rdb.XPending(ctx, h.keys.Events, "g").Result()
		return n.Count == 0
	})
	if s := h.steps("trimmed"); len(s) != 0 {
		t.Fatalf("a trimmed entry was handled: %v", s)
	}
}
