package pipeline

import (
	"context"
	"fmt"
	"github.com/streamsync/streamsync/inspect"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/pipeline/ordered"
	"github.com/streamsync/streamsync/sinks/partner"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

type harness struct {
	t      *testing.T
	rdb    redis.UniversalClient
	keys   layout.Keys   // shard 0
	shards layout.Shards // every shard
	sim    *partnersim.Server
	clock  *fakeClock
	p      *Pipeline
	sender handlers.Sender
	stop   func()
}

type options struct {
	shards int // more than 1: keys of that many shards, tagged
	cfg    func(*Config)
	sink   func(*partner.Config)
	sim    func(*partnersim.Options)
}

// newHarness runs a pipeline against the test Redis (keys of its own) and
// partnersim over real HTTP, with a fake clock for due times.
func newHarness(t *testing.T, o options) *harness {
	t.Helper()
	var rdb redis.UniversalClient
	_, onCluster := clusterTests.Load(t)
	if onCluster {
		rdb = testenv.RedisCluster(t)
	} else {
		rdb = testenv.Redis(t)
	}
	prefix := testenv.Prefix(t)
	n := max(o.shards, 1)
	shards := layout.NewShards(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry", n, onCluster || n > 1)
	if n > 1 && !onCluster {
		testenv.CheckScriptSlots(t, rdb)
	}
	keys := shards[0]
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	clock := &fakeClock{now: time.Now()}
	simOpts := partnersim.Options{ClientID: "id", ClientSecret: "sec"}
	if o.sim != nil {
		o.sim(&simOpts)
	}
	sim, err := partnersim.New(simOpts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	sc := partner.Config{BaseURL: hs.URL, ClientID: "id", ClientSecret: "sec", Timeout: 2 * time.Second,
		Breaker: partner.BreakerConfig{TripAfter: 1000, OpenFor: 30 * time.Millisecond, PollInterval: 5 * time.Millisecond}}
	if o.sink != nil {
		o.sink(&sc)
	}
	sink, err := partner.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Shards: shards, Consumer: "c1", PartnerName: "partner",
		Retry:   handlers.RetryPolicy{Initial: time.Second, Max: 10 * time.Second, MaxAttempts: 5, Jitter: func() float64 { return 0.5 }},
		MaxWait: time.Minute, Recheck: 10 * time.Second, MoveEvery: 5 * time.Millisecond,
		AttemptLog: true, Clock: clock,
		Subscriber: ordered.Config{Block: 50 * time.Millisecond, NackDelay: 20 * time.Millisecond},
	}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	h := &harness{t: t, rdb: rdb, keys: keys, shards: shards, sim: sim, clock: clock, sender: sink}
	h.p, err = New(cfg, rdb, h.sender)
	if err != nil {
		t.Fatal(err)
	}
	h.run()
	return h
}

func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.p.Run(ctx) }()
	select {
	case <-h.p.Running():
	case <-time.After(10 * time.Second):
		h.t.Fatal("pipeline did not start")
	}
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					h.t.Errorf("pipeline: %v", err)
				}
			case <-time.After(30 * time.Second):
				h.t.Error("pipeline did not stop")
			}
		})
	}
	h.t.Cleanup(h.stop)
}

// clusterTests holds the tests whose harness runs on the test Redis
// Cluster (see TestOnCluster).
var clusterTests sync.Map

// xadd appends an entry made of name/value pairs to its account's shard.
func (h *harness) xadd(kv ...string) string {
	h.t.Helper()
	vals := make([]any, len(kv))
	account := ""
	for i, v := range kv {
		vals[i] = v
		if i%2 == 1 && kv[i-1] == "account" {
			account = v
		}
	}
	id, err := h.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: h.shards.Stream(account), Values: vals}).Result()
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

func (h *harness) upsert(id, account, entity, key string, version int, data string, extra ...string) string {
	h.t.Helper()
	kv := append([]string{"id", id, "account", account, "entity", entity, "key", key, "op", "upsert",
		"version", fmt.Sprint(version), "data", data}, extra...)
	return h.xadd(kv...)
}

// steps is every step the attempt log has for an event, in order.
func (h *harness) steps(eventID string) []string {
	h.t.Helper()
	return h.stepsByEvent()[eventID]
}

// waitSteps waits until the event's steps are want.
func (h *harness) waitSteps(eventID string, want ...string) {
	h.t.Helper()
	var got []string
	end := time.Now().Add(15 * time.Second)
	for got = h.steps(eventID); strings.Join(got, ",") != strings.Join(want, ","); got = h.steps(eventID) {
		if time.Now().After(end) {
			h.t.Fatalf("event %s: steps %v, want %v", eventID, got, want)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

// waitTerminal waits until every id has a terminal step and returns the steps by id.
func (h *harness) waitTerminal(ids []string, deadline time.Duration) map[string][]string {
	h.t.Helper()
	return h.advanceUntilTerminal(ids, 0, deadline)
}

// advanceUntilTerminal moves the clock by step between looks (0: not at all)
// until every id has a terminal step, and returns the steps by id.
func (h *harness) advanceUntilTerminal(ids []string, step, deadline time.Duration) map[string][]string {
	h.t.Helper()
	var by map[string][]string
	testenv.WaitFor(h.t, deadline, "a terminal step for every event", func() bool {
		by = h.stepsByEvent()
		for _, id := range ids {
			s := by[id]
			if len(s) == 0 || !terminal(s[len(s)-1]) {
				h.clock.Add(step)
				return false
			}
		}
		return true
	})
	return by
}

// waitStepCount waits until the event has n steps.
func (h *harness) waitStepCount(eventID string, n int) {
	h.t.Helper()
	testenv.WaitFor(h.t, 10*time.Second, fmt.Sprintf("%d steps of %s", n, eventID), func() bool { return len(h.steps(eventID)) >= n })
}

func (h *harness) stepsByEvent() map[string][]string {
	h.t.Helper()
	by := map[string][]string{}
	for _, k := range h.shards {
		rows, err := h.rdb.XRange(context.Background(), k.Attempts, "-", "+").Result()
		if err != nil {
			h.t.Fatal(err)
		}
		for _, r := range rows {
			id := r.Values["event_id"].(string)
			by[id] = append(by[id], r.Values["step"].(string))
		}
	}
	return by
}

func terminal(step string) bool {
	switch handlers.Step(step) {
	case handlers.StepParked, handlers.StepRetryScheduled, handlers.StepReleased, handlers.StepReplayed:
		return false
	}
	return true
}

// dead returns the dead letters of the run.
func (h *harness) dead() []inspect.DeadLetter {
	h.t.Helper()
	d, _, err := inspect.DeadOps{RDB: h.rdb, Shards: h.shards}.List(context.Background(), inspect.DeadFilter{All: true}, "", 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

func (h *harness) partnerKeys() []string {
	var out []string
	for _, r := range h.sim.Snapshot("").Records {
		if !r.Deleted {
			out = append(out, r.Entity+"/"+r.Key)
		}
	}
	sort.Strings(out)
	return out
}

func (h *harness) faults(f partnersim.Faults) {
	h.t.Helper()
	if err := h.sim.SetFaults(f); err != nil {
		h.t.Fatal(err)
	}
}
