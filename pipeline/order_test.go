package pipeline

import (
	"context"
	"errors"
	"fmt"
	"github.com/streamsync/streamsync/inspect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
)

// One account's events reach the partner one at a time, in stream order;
// different accounts go in parallel.
func TestPerAccountOrderAndParallelAccounts(t *testing.T) {
	h := newHarness(t, options{})
	h.faults(partnersim.Faults{Latency: partnersim.Duration(2 * time.Millisecond), Jitter: partnersim.Duration(3 * time.Millisecond)})
	const accounts, perAccount = 20, 15
	var ids []string
	for i := range perAccount {
		for a := range accounts {
			id := fmt.Sprintf("e-%d-%d", a, i)
			ids = append(ids, id)
			h.upsert(id, "acc"+strconv.Itoa(a), "main", fmt.Sprintf("k-%d-%d", a, i%4), i+1, fmt.Sprintf(`{"i":%d}`, i))
		}
	}
	h.waitTerminal(ids, 30*time.Second)
	st := h.sim.Snapshot("").Stats
	if st.Overlaps != 0 {
		t.Fatalf("partner saw %d overlapping requests of one account: %v", st.Overlaps, st.OverlapsByAccount)
	}
	last := map[string]int64{}
	maxConcurrent, inFlight := 0, 0
	type span struct{ at, done int64 }
	var spans []span
	for _, e := range h.sim.Log(0, 0) {
		if e.Version < last[e.Account] {
			t.Fatalf("account %s: version %d after %d (stream order broken)", e.Account, e.Version, last[e.Account])
		}
		last[e.Account] = e.Version
		spans = append(spans, span{e.AtUS, e.DoneUS})
	}
	for _, s := range spans {
		inFlight = 0
		for _, o := range spans {
			if o.at <= s.at && s.at < o.done {
				inFlight++
			}
		}
		maxConcurrent = max(maxConcurrent, inFlight)
	}
	if maxConcurrent < 2 {
		t.Fatalf("at most %d partner calls at once: accounts did not run in parallel", maxConcurrent)
	}
}

// An outcome is committed once: the second commit of the same entry finds it
// acked and writes nothing.
func TestCommitOnlyOnce(t *testing.T) {
	h := newHarness(t, options{})
	h.stop()
	ctx := context.Background()
	sid := h.upsert("e1", "acc", "main", "k", 1, `{}`)
	if _, err := h.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "other", Streams: []string{h.keys.Events, ">"}, Count: 1}).Result(); err != nil {
		t.Fatal(err)
	}
	c := h.p.commit
	rejected := handlers.Outcome{Step: handlers.StepDead, DeadReason: handlers.ReasonRejected, Attempt: 1, Error: "422"}
	en := entry{streamID: sid, fields: map[string]string{"id": "e1", "account": "acc", "entity": "main", "key": "k", "op": "upsert", "version": "1", "data": "{}"}}
	e, _, _ := handlers.Validate(en.fields, event.Limits{})
	for i, want := range []bool{true, false} {
		ok, _, err := c.commit(ctx, h.keys, en, e, "", rejected, time.Now())
		if err != nil || ok != want {
			t.Fatalf("commit %d: %v %v, want %v", i, ok, err, want)
		}
	}
	if n := len(h.dead()); n != 1 {
		t.Fatalf("%d dead letters, want 1", n)
	}
	if n := len(h.steps("e1")); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

// Two processes in one group never deliver one account at once, and each
// account's events reach the partner in stream order: each shard is read
// by one process (its owner lease), and both processes work, one shard
// each.
func TestTwoProcessesKeepAccountsSerial(t *testing.T) {
	h := newHarness(t, options{shards: 2, cfg: func(c *Config) { c.Subscriber.Batch = 4 }})
	h.faults(partnersim.Faults{Latency: partnersim.Duration(3 * time.Millisecond)})
	cfg := h.p.cfg
	cfg.Consumer, cfg.Instance = "c2", "c2"
	second, err := New(cfg, h.rdb, h.sender)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- second.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// The first process took both shards; the second joins, and each ends
	// up owning one.
	testenv.WaitFor(t, 15*time.Second, "each process to own a shard", func() bool {
		a, _ := h.rdb.Get(context.Background(), h.shards[0].Owner).Result()
		b, _ := h.rdb.Get(context.Background(), h.shards[1].Owner).Result()
		return a != "" && b != "" && a != b
	})
	st, err := inspect.ReadShardsStatus(context.Background(), h.rdb, h.shards)
	if err != nil {
		t.Fatal(err)
	}
	if owners := []string{st.Shards[0].Owner, st.Shards[1].Owner}; !slices.Contains(owners, "c1") || !slices.Contains(owners, "c2") {
		t.Fatalf("status says the shards are read by %v, want c1 and c2", owners)
	}

	var ids []string
	for i := range 160 {
		id := fmt.Sprintf("e%d", i)
		ids = append(ids, id)
		// one record per account: each event a newer version of it
		h.upsert(id, "acc"+strconv.Itoa(i%8), "main", "k"+strconv.Itoa(i%8), i+1, fmt.Sprintf(`{"n":%d}`, i))
	}
	h.waitTerminal(ids, 30*time.Second)
	if st := h.sim.Snapshot("").Stats; st.Overlaps != 0 {
		t.Fatalf("partner saw %d overlapping requests of one account", st.Overlaps)
	}
	last := map[string]int64{}
	for _, e := range h.sim.Log(0, 0) {
		if e.Version <= last[e.Account] {
			t.Fatalf("account %s: version %d reached the partner after %d", e.Account, e.Version, last[e.Account])
		}
		last[e.Account] = e.Version
	}
	for id, steps := range h.stepsByEvent() {
		if !slices.Equal(steps, []string{"delivered"}) {
			t.Fatalf("event %s: steps %v, want delivered only", id, steps)
		}
	}
	instances := map[string]int{}
	rows, _ := h.rdb.XRange(context.Background(), h.keys.Attempts, "-", "+").Result()
	for _, sh := range h.shards[1:] {
		more, _ := h.rdb.XRange(context.Background(), sh.Attempts, "-", "+").Result()
		rows = append(rows, more...)
	}
	for _, r := range rows {
		instances[r.Values["instance"].(string)]++
	}
	if instances["c1"] == 0 || instances["c2"] == 0 {
		t.Fatalf("rows by instance %v: both processes should have worked, one shard each", instances)
	}
}

// A process that died holding a shard: its owner lease lapses, another
// process takes the shard over, delivers the entries the dead one left
// pending first, and the account's events reach the partner in stream
// order.
func TestShardTakenOverFromADeadProcess(t *testing.T) {
	var ids []string
	h := newHarness(t, options{cfg: func(c *Config) {
		rdb, k, ctx := testenv.Redis(t), c.Shards[0], context.Background()
		if err := rdb.XGroupCreateMkStream(ctx, k.Events, k.Group, "0").Err(); err != nil {
			t.Fatal(err)
		}
		for i := range 6 {
			id := fmt.Sprintf("e%d", i)
			ids = append(ids, id)
			rdb.XAdd(ctx, &redis.XAddArgs{Stream: k.Events, Values: []any{"id", id, "account", "acc", "entity", "main",
				"key", "k", "op", "upsert", "version", strconv.Itoa(i + 1), "data", fmt.Sprintf(`{"n":%d}`, i), "ts", strconv.FormatInt(time.Now().UnixMilli(), 10)}})
		}
		// The dead process read the first four and held the shard.
		if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: k.Group, Consumer: "dead", Streams: []string{k.Events, ">"}, Count: 4}).Err(); err != nil {
			t.Fatal(err)
		}
		rdb.Set(ctx, k.Owner, "dead", 1500*time.Millisecond)
	}})
	h.waitTerminal(ids, 30*time.Second)
	var versions []int64
	for _, e := range h.sim.Log(0, 0) {
		versions = append(versions, e.Version)
	}
	if !slices.Equal(versions, []int64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("the partner got versions %v, want 1 to 6 in order", versions)
	}
	if owner, _ := h.rdb.Get(context.Background(), h.keys.Owner).Result(); owner != "c1" {
		t.Fatalf("shard owner %q, want c1", owner)
	}
}

// Two running processes with one consumer name would both take the same
// shards: the second one refuses to run, naming the setting.
func TestSameConsumerNameRefused(t *testing.T) {
	h := newHarness(t, options{})
	second, err := New(h.p.cfg, h.rdb, h.sender)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = second.Run(ctx)
	if !errors.Is(err, ErrConsumerInUse) || !strings.Contains(err.Error(), "stream.consumer") {
		t.Fatalf("second process with the same name: %v; want ErrConsumerInUse naming stream.consumer", err)
	}
	// The first one goes on delivering.
	h.upsert("e1", "acc", "main", "k", 1, `{}`)
	h.waitSteps("e1", "delivered")
}
