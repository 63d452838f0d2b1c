package pipeline

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/streams"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/sinks/partner"
)

func TestDelivered(t *testing.T) {
	h := newHarness(t, options{})
	h.upsert("e1", "acc", "main_registration", "m/1 ?#", 10, `{"name":"Li"}`, "ts", "1700000000000")
	h.waitSteps("e1", "delivered")
	rec := h.sim.Snapshot("").Records
	if len(rec) != 1 || rec[0].Key != "m/1 ?#" || rec[0].Version != 10 || string(rec[0].Data) != `{"name":"Li"}` {
		t.Fatalf("partner has %+v", rec)
	}
	l, _ := h.rdb.HGet(context.Background(), h.keys.Ledger("main_registration"), "m/1 ?#").Result()
	if got := handlers.ParseLedger(l); got.Version != 10 || got.EventID != "e1" || got.Deleted {
		t.Fatalf("ledger %q", l)
	}
	rows, _ := h.rdb.XRange(context.Background(), h.keys.Attempts, "-", "+").Result()
	r := rows[0].Values
	for _, col := range streams.RowColumns {
		if _, ok := r[col]; !ok {
			t.Errorf("row lacks column %s", col)
		}
	}
	if r["attempt"] != "1" || r["http_status"] != "201" || r["chain_id"] != "e1" || r["instance"] != "c1" || r["row_id"] == "" || r["error"] != "" {
		t.Fatalf("row %v", r)
	}
	if n, _ := h.rdb.XPending(context.Background(), h.keys.Events, "g").Result(); n.Count != 0 {
		t.Fatalf("%d entries still pending", n.Count)
	}
}

func TestInvalidNeverStallsTheStream(t *testing.T) {
	h := newHarness(t, options{})
	h.xadd("id", "bad-1", "account", "acc", "entity", "Main Reg", "key", "k", "op", "upsert", "version", "x", "data", "[]", "extra", "kept")
	h.xadd("garbage", "yes")
	h.upsert("good-1", "acc", "main", "k", 1, `{}`)
	h.waitSteps("good-1", "delivered")
	h.waitSteps("bad-1", "invalid")
	dead := h.dead()
	if len(dead) != 2 {
		t.Fatalf("dead letters %+v", dead)
	}
	if dead[0].EventID != "bad-1" { // the two have different accounts: either may come first
		dead[0], dead[1] = dead[1], dead[0]
	}
	d := dead[0]
	if d.Reason != "invalid" || d.Fields["extra"] != "kept" || d.Fields["entity"] != "Main Reg" || d.Attempts != 0 || d.At == 0 ||
		!strings.Contains(d.Error, "entity:") || !strings.Contains(d.Error, "version:") || !strings.Contains(d.Error, "data:") {
		t.Fatalf("dead letter %+v", d)
	}
	if dead[1].Fields["garbage"] != "yes" || dead[1].Reason != "invalid" {
		t.Fatalf("unreadable entry not kept: %+v", dead[1])
	}
}

func TestLoopIsNeverSentBack(t *testing.T) {
	h := newHarness(t, options{})
	h.upsert("echo-1", "acc", "main", "k", 5, `{"a":1,"b":2}`, "origin", "partner")
	h.waitSteps("echo-1", "skipped_loop")
	// Our side's echo of the same content is unchanged, so nothing goes out.
	h.upsert("ours-1", "acc", "main", "k", 6, `{"b":2,"a":1}`, "origin", "crm")
	h.waitSteps("ours-1", "skipped_unchanged")
	if n := len(h.sim.Log(0, 0)); n != 0 {
		t.Fatalf("partner got %d requests", n)
	}
	l, _ := h.rdb.HGet(context.Background(), h.keys.Ledger("main"), "k").Result()
	if handlers.ParseLedger(l).Version != 6 {
		t.Fatalf("ledger %q: the version moves up to the skipped event's", l)
	}
}

func TestStaleAndDuplicate(t *testing.T) {
	h := newHarness(t, options{})
	h.upsert("e2", "acc", "main", "k", 20, `{"v":2}`)
	h.upsert("e1", "acc", "main", "k", 10, `{"v":1}`)
	h.upsert("e2", "acc", "main", "k", 20, `{"v":2}`) // the same event again
	h.waitSteps("e2", "delivered", "skipped_stale")
	h.waitSteps("e1", "skipped_stale")
	if n := len(h.sim.Log(0, 0)); n != 1 {
		t.Fatalf("partner got %d requests, want 1", n)
	}
}

func TestChildWaitsForParent(t *testing.T) {
	h := newHarness(t, options{})
	h.upsert("c1", "acc", "sub", "s1", 1, `{}`, "parent_entity", "main", "parent_key", "m1")
	h.waitSteps("c1", "parked")
	h.upsert("p1", "acc", "main", "m1", 1, `{}`)
	h.waitSteps("c1", "parked", "released", "delivered")
	h.waitSteps("p1", "delivered")
	for _, e := range h.sim.Log(0, 0) {
		if e.Status == 409 {
			t.Fatalf("the partner saw the child before its parent: %+v", e)
		}
	}
}

func TestChildWaitsWhileParentRetries(t *testing.T) {
	h := newHarness(t, options{cfg: func(c *Config) { c.Retry.Initial, c.Retry.Max = 10*time.Minute, 10*time.Minute }})
	h.faults(partnersim.Faults{ErrorRate: 1})
	h.upsert("p1", "acc", "main", "m1", 1, `{}`)
	h.waitSteps("p1", "retry_scheduled")
	h.upsert("c1", "acc2", "sub", "s1", 1, `{}`, "parent_entity", "main", "parent_key", "m1")
	h.waitSteps("c1", "parked")
	for i := range 12 { // two minutes, twice max_wait: each recheck parks the child again, its parent is known
		h.clock.Add(10 * time.Second)
		h.waitStepCount("c1", 1+2*(i+1))
	}
	if d := h.dead(); len(d) != 0 {
		t.Fatalf("child gave up while its parent retried: %+v", d)
	}
	h.faults(partnersim.Faults{})
	h.clock.Add(10 * time.Minute) // the parent's retry is due
	h.waitSteps("p1", "retry_scheduled", "delivered")
	by := h.waitTerminal([]string{"c1"}, 10*time.Second)
	if s := by["c1"]; s[len(s)-1] != "delivered" {
		t.Fatalf("child: %v", s)
	}
}

func TestParentNeverSeen(t *testing.T) {
	h := newHarness(t, options{})
	h.upsert("c1", "acc", "sub", "s1", 1, `{}`, "parent_entity", "main", "parent_key", "nobody")
	h.waitSteps("c1", "parked")
	for i := range 5 { // rechecks every 10s park it again; max_wait is a minute
		h.clock.Add(10 * time.Second)
		h.waitStepCount("c1", 1+2*(i+1))
	}
	h.clock.Add(10 * time.Second)
	h.waitSteps("c1", "parked", "released", "parked", "released", "parked", "released", "parked", "released", "parked",
		"released", "parked", "released", "dead")
	d := h.dead()
	if len(d) != 1 || d[0].Reason != "parent_missing" || !strings.Contains(d[0].Error, "not seen within 1m0s") {
		t.Fatalf("dead %+v", d)
	}
}

func TestParentDeadKillsChild(t *testing.T) {
	h := newHarness(t, options{})
	h.faults(partnersim.Faults{RejectPrefix: "bad"})
	h.upsert("c1", "acc", "sub", "s1", 1, `{}`, "parent_entity", "main", "parent_key", "bad-m1")
	h.waitSteps("c1", "parked")
	h.upsert("p1", "acc", "main", "bad-m1", 1, `{}`)
	h.waitSteps("p1", "dead")
	h.waitSteps("c1", "parked", "released", "dead")
	reasons := map[string]string{}
	for _, d := range h.dead() {
		reasons[d.EventID] = d.Reason + ": " + d.Error
	}
	if !strings.HasPrefix(reasons["p1"], "rejected: 422") || !strings.HasPrefix(reasons["c1"], "parent_missing: parent main/bad-m1 was dead-lettered") {
		t.Fatalf("dead %v", reasons)
	}
}

func TestRetryThenDelivered(t *testing.T) {
	h := newHarness(t, options{})
	h.faults(partnersim.Faults{ErrorRate: 1})
	h.upsert("e1", "acc", "main", "k", 1, `{}`)
	h.waitSteps("e1", "retry_scheduled")
	due, _ := h.rdb.ZScore(context.Background(), h.keys.Retry, "e1").Result()
	if got := time.UnixMilli(int64(due)).Sub(h.clock.Now()); got < 900*time.Millisecond || got > 1100*time.Millisecond {
		t.Fatalf("due in %s, want the first backoff (1s)", got)
	}
	h.faults(partnersim.Faults{})
	h.clock.Add(time.Second)
	h.waitSteps("e1", "retry_scheduled", "delivered")
	rows, _ := h.rdb.XRange(context.Background(), h.keys.Attempts, "-", "+").Result()
	if last := rows[len(rows)-1].Values; last["attempt"] != "2" {
		t.Fatalf("delivered on attempt %v, want 2", last["attempt"])
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	h := newHarness(t, options{})
	h.faults(partnersim.Faults{Rate429: 1, RetryAfter: partnersim.Duration(30 * time.Second)})
	h.upsert("e1", "acc", "main", "k", 1, `{}`)
	h.waitSteps("e1", "retry_scheduled")
	due, _ := h.rdb.ZScore(context.Background(), h.keys.Retry, "e1").Result()
	if got := time.UnixMilli(int64(due)).Sub(h.clock.Now()); got < 29*time.Second {
		t.Fatalf("due in %s, want Retry-After's 30s", got)
	}
}

func TestExhausted(t *testing.T) {
	h := newHarness(t, options{cfg: func(c *Config) { c.Retry.MaxAttempts = 3 }})
	h.faults(partnersim.Faults{ErrorRate: 1})
	h.upsert("e1", "acc", "main", "k", 1, `{}`, "custom", "x")
	for i := 1; i <= 2; i++ {
		want := strings.Repeat("retry_scheduled,", i)
		h.waitSteps("e1", strings.Split(strings.TrimSuffix(want, ","), ",")...)
		h.clock.Add(time.Minute)
	}
	h.waitSteps("e1", "retry_scheduled", "retry_scheduled", "dead")
	d := h.dead()
	if len(d) != 1 || d[0].Reason != "exhausted" || d[0].Attempts != 3 || d[0].Fields["custom"] != "x" || !strings.Contains(d[0].Error, "503") {
		t.Fatalf("dead %+v", d)
	}
	for k := range d[0].Fields {
		if handlers.IsMeta(k) {
			t.Fatalf("dead letter carries streamsync's field %s", k)
		}
	}
}

func TestPartnerOutageDeadLettersNothing(t *testing.T) {
	h := newHarness(t, options{sink: func(c *partner.Config) {
		c.Breaker.TripAfter = 5
	}})
	h.faults(partnersim.Faults{Outage: true})
	var ids []string
	for i := range 40 {
		id := "e" + strconv.Itoa(i)
		ids = append(ids, id)
		h.upsert(id, "acc"+strconv.Itoa(i%8), "main", "k"+strconv.Itoa(i), 1, `{}`)
	}
	testenv.WaitFor(t, 10*time.Second, "outage traffic", func() bool { return h.sim.Snapshot("").Stats.ByStatus["503"] >= 30 })
	// The retries come due during the outage and wait for the breaker, in flight.
	h.clock.Add(time.Hour)
	testenv.WaitFor(t, 10*time.Second, "the retries taken back from the ZSET", func() bool {
		return h.rdb.ZCard(context.Background(), h.keys.Retry).Val() == 0
	})
	h.faults(partnersim.Faults{})
	by := h.advanceUntilTerminal(ids, time.Minute, 20*time.Second)
	for _, id := range ids {
		if s := by[id]; s[len(s)-1] != "delivered" {
			t.Fatalf("%s: %v", id, s)
		}
	}
	if d := h.dead(); len(d) != 0 {
		t.Fatalf("dead letters after an outage: %+v", d)
	}
}
