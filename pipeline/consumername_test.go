package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
)

// A default consumer name (the host name) that a running process has makes
// the next process take the first free of name-2, name-3, …; a name the
// user set is refused instead; a name given up is taken again first.
func TestDefaultConsumerNamePicksAFreeOne(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	shards := layout.NewShards(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry", 1, false)
	ctx := context.Background()
	take := func(auto bool) (*ConsumerName, error) {
		n, err := TakeConsumerName(ctx, rdb, shards, NameConfig{Name: "host", Auto: auto})
		if err == nil {
			t.Cleanup(n.Release)
		}
		return n, err
	}
	first, err := take(true)
	if err != nil || first.Name() != "host" {
		t.Fatalf("first: %v, %v", first, err)
	}
	second, err := take(true)
	if err != nil || second.Name() != "host-2" {
		t.Fatalf("second: %v, %v; want host-2", second, err)
	}
	third, err := take(true)
	if err != nil || third.Name() != "host-3" {
		t.Fatalf("third: %v, %v; want host-3", third, err)
	}
	if _, err := take(false); !errors.Is(err, ErrConsumerInUse) || !strings.Contains(err.Error(), "stream.consumer") {
		t.Fatalf("a name the user set, in use: %v; want ErrConsumerInUse", err)
	}
	second.Release()
	again, err := take(true)
	if err != nil || again.Name() != "host-2" {
		t.Fatalf("after host-2 was given up: %v, %v; want host-2 again", again, err)
	}
	// The holds are renewed.
	ttl := rdb.PTTL(ctx, shards[0].ConsumerName("host")).Val()
	testenv.WaitFor(t, 10*time.Second, "the hold to be renewed", func() bool {
		return rdb.PTTL(ctx, shards[0].ConsumerName("host")).Val() > ttl
	})
}

// A process that died holding a default name and is started again on the
// same host (its old process id gone, or the same id reused) waits for the
// old hold to lapse and takes its own name back, rather than the next free
// one: its name, and what was pending under it, stay its own.
func TestRestartKeepsTheDefaultConsumerName(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	shards := layout.NewShards(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry", 1, false)
	ctx := context.Background()
	host, _ := os.Hostname()
	// The former life: this process' id (a container restarted under the
	// same id), renewing no more.
	rdb.Set(ctx, shards[0].ConsumerName("host"), fmt.Sprintf("%s:%d:former", host, os.Getpid()), consumerTTL)
	other, err := TakeConsumerName(ctx, rdb, shards, NameConfig{Name: "host", Auto: true})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release()
	if other.Name() != "host" {
		t.Fatalf("restarted process took %q; want its own name host", other.Name())
	}
	// Held by another live process on this host (this test's parent): the
	// next free name, at once.
	rdb.Set(ctx, shards[0].ConsumerName("busy"), fmt.Sprintf("%s:%d:x", host, os.Getppid()), time.Minute)
	start := time.Now()
	n, err := TakeConsumerName(ctx, rdb, shards, NameConfig{Name: "busy", Auto: true})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Release()
	if n.Name() != "busy-2" || time.Since(start) > consumerTTL {
		t.Fatalf("took %q after %s; want busy-2 at once", n.Name(), time.Since(start))
	}
	if formerLife(host + ":" + strconv.Itoa(os.Getppid()) + ":x") {
		t.Fatal("a running process counts as a former life")
	}
}

// Two pipelines with the default consumer name in one test, as two
// processes on one host: both run (the second is not refused), each under
// a name of its own, and between them they deliver every event.
func TestTwoPipelinesWithTheDefaultName(t *testing.T) {
	h := newHarness(t, options{shards: 2, cfg: func(c *Config) {
		n, err := TakeConsumerName(context.Background(), testenv.Redis(t), c.Shards, NameConfig{Name: "host", Auto: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Release)
		c.Name, c.Instance = n, ""
	}})
	name, err := TakeConsumerName(context.Background(), h.rdb, h.shards, NameConfig{Name: "host", Auto: true})
	if err != nil {
		t.Fatal(err)
	}
	defer name.Release()
	cfg := h.p.cfg
	cfg.Name, cfg.Instance = name, ""
	second, err := New(cfg, h.rdb, h.sender)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- second.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("second pipeline: %v", err)
		}
	}()
	testenv.WaitFor(t, 15*time.Second, "each pipeline to read a shard", func() bool {
		a, _ := h.rdb.Get(context.Background(), h.shards[0].Owner).Result()
		b, _ := h.rdb.Get(context.Background(), h.shards[1].Owner).Result()
		return a != "" && b != "" && a != b
	})
	var ids []string
	for i := range 40 {
		id := fmt.Sprintf("e%d", i)
		ids = append(ids, id)
		h.upsert(id, "acc"+strconv.Itoa(i%8), "main", "k"+strconv.Itoa(i), 1, `{}`)
	}
	h.waitTerminal(ids, 30*time.Second)
	instances := map[string]bool{}
	for _, k := range h.shards {
		rows, _ := h.rdb.XRange(context.Background(), k.Attempts, "-", "+").Result()
		for _, r := range rows {
			instances[r.Values["instance"].(string)] = true
		}
	}
	if !instances["host"] || !instances["host-2"] || len(instances) != 2 {
		t.Fatalf("rows by instance %v; want host and host-2", instances)
	}
}
