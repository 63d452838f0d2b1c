package pipeline

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/streams"
	"github.com/streamsync/streamsync/internal/testenv"
)

// countPipelines counts pipelined round trips and the commands in them.
type countPipelines struct{ trips, cmds atomic.Int64 }

func (c *countPipelines) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, n, a string) (net.Conn, error) { return next(ctx, n, a) }
}
func (c *countPipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (c *countPipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.trips.Add(1)
		c.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// Commits made at the same time share round trips, and each still gets its
// own script's answer.
func TestCommitsShareRoundTrips(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), PoolSize: 4})
	t.Cleanup(func() { _ = rdb.Close() })
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	k := NewKeys(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry")
	ctx := context.Background()
	if err := streams.EnsureGroup(ctx, rdb, k.Events, k.Group); err != nil {
		t.Fatal(err)
	}
	// Half the entries are pending in the group (their commit acks them:
	// 1), half were never read (0).
	var read []string
	for i := range 100 {
		id := rdb.XAdd(ctx, &redis.XAddArgs{Stream: k.Events, Values: []any{"i", i}}).Val()
		read = append(read, id)
	}
	if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c", Streams: []string{k.Events, ">"}, Count: 100}).Err(); err != nil {
		t.Fatal(err)
	}
	count := &countPipelines{}
	rdb.AddHook(count)
	b := &roundTrips{rdb: rdb}
	var wg sync.WaitGroup
	got := make([]int64, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sid := fmt.Sprintf("%d-0", 1+i) // never read
			if i < 100 {
				sid = read[i]
			}
			keys := []string{k.Events, k.Attempts, k.Steps, k.Ledger("x"), k.State("x"), k.Waiting("x", "k"), k.Delayed, k.Delayed,
				k.Payloads, k.Dead, k.Waiting("", ""), k.Lease("a"), k.Ledger("")}
			n, err := b.runScript(ctx, commitScript, keys, []any{"g", sid, "k", fmt.Sprint("e", i), 1, "delivered", "none", "", "keep", "", "0", "", "", "0", 0, 0, "run", ""}).Int64()
			if err != nil {
				t.Error(err)
			}
			got[i] = n
		}()
	}
	wg.Wait()
	for i, n := range got {
		if want := int64(map[bool]int{true: 1, false: 0}[i < 100]); n != want {
			t.Fatalf("commit %d answered %d, want %d", i, n, want)
		}
	}
	if p, _ := rdb.XPending(ctx, k.Events, "g").Result(); p.Count != 0 {
		t.Fatalf("%d entries still pending", p.Count)
	}
	// Unbatched, each of the 200 commits is a round trip of its own; how
	// many share one depends on the scheduler (nothing waits for a batch
	// to fill), so only "fewer round trips than commits" is certain.
	if trips := count.trips.Load(); trips == 0 || trips >= 200 || count.cmds.Load() <= trips {
		t.Fatalf("%d pipelined round trips carried %d commands: commits were not batched", trips, count.cmds.Load())
	}
	t.Logf("200 commits in %d pipelined round trips (%d commands)", count.trips.Load(), count.cmds.Load())
}
