package attemptlog

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/pipeline"
	"github.com/streamsync/streamsync/pipeline/ordered"
	"github.com/streamsync/streamsync/sinks/partner"
)

// Every row any producer writes converts: a real pipeline makes every step
// kind (Go rows and the scripts' rows: released, replayed, an unreadable
// payload's invalid), including the replay of an invalid event whose
// version is not a number, and the exporter gets every row into ClickHouse
// with none dropped.
func TestExporterTakesEveryStepKind(t *testing.T) {
	rdb := testenv.Redis(t)
	conn, db := testenv.ClickHouse(t)
	ctx := context.Background()
	prefix := testenv.Prefix(t)
	keys := layout.NewKeys(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry")
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	sim, err := partnersim.New(partnersim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	sink, err := partner.New(partner.Config{BaseURL: hs.URL, Timeout: 2 * time.Second,
		Breaker: partner.BreakerConfig{TripAfter: 1000, OpenFor: 30 * time.Millisecond, PollInterval: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(pipeline.Config{Keys: keys, Consumer: "c1", PartnerName: "partner",
		Retry:   handlers.RetryPolicy{Initial: 300 * time.Millisecond, Max: 300 * time.Millisecond, MaxAttempts: 5, Jitter: func() float64 { return 0.5 }},
		MaxWait: time.Minute, Recheck: time.Minute, MoveEvery: 5 * time.Millisecond, AttemptLog: true,
		Subscriber: ordered.Config{Block: 50 * time.Millisecond, NackDelay: 20 * time.Millisecond}}, rdb, sink)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopPipeline := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = p.Run(runCtx); close(done) }()
	t.Cleanup(func() { stopPipeline(); <-done })

	xadd := func(kv ...any) {
		t.Helper()
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Events, Values: kv}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	rows := func() map[string]int {
		by := map[string]int{}
		for _, r := range rdb.XRange(ctx, keys.Attempts, "-", "+").Val() {
			by[r.Values["step"].(string)]++
		}
		return by
	}
	waitStep := func(step string, n int) {
		t.Helper()
		testenv.WaitFor(t, 10*time.Second, step+" rows", func() bool { return rows()[step] >= n })
	}
	up := func(id, key, version, data string, extra ...any) {
		xadd(append([]any{"id", id, "account", "acc", "entity", "main", "key", key, "op", "upsert", "version", version, "data", data}, extra...)...)
	}

	up("d1", "k1", "1", `{"a":1}`)
	waitStep("delivered", 1)
	up("d1", "k1", "1", `{"a":1}`)
	waitStep("skipped_stale", 1)
	up("d2", "k1", "2", `{"a":1}`)
	waitStep("skipped_unchanged", 1)
	up("l1", "k2", "1", `{}`, "origin", "partner")
	waitStep("skipped_loop", 1)
	up("c1", "k3", "1", `{}`, "parent_entity", "main", "parent_key", "m1")
	waitStep("parked", 1)
	up("p1", "m1", "1", `{}`)
	waitStep("released", 1)
	waitStep("delivered", 3)
	if err := sim.SetFaults(partnersim.Faults{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	up("r1", "k4", "1", `{}`)
	waitStep("retry_scheduled", 1)
	if err := sim.SetFaults(partnersim.Faults{RejectPrefix: "bad"}); err != nil {
		t.Fatal(err)
	}
	waitStep("delivered", 4)
	up("x1", "bad-1", "1", `{}`)
	waitStep("dead", 1)
	up("v1", "k5", "v1", `{}`) // invalid: the version is not a number
	waitStep("invalid", 1)
	ops := inspect.DeadOps{RDB: rdb, Keys: keys, Instance: "op", AttemptLog: true}
	if _, err := ops.Replay(ctx, inspect.DeadFilter{IDs: []string{"v1"}}); err != nil {
		t.Fatal(err)
	}
	waitStep("replayed", 1)
	waitStep("invalid", 2)
	rdb.HSet(ctx, keys.Payloads, "broken", "12:short") // an unreadable payload: the mover's own invalid row
	rdb.ZAdd(ctx, keys.Delayed, redis.Z{Score: float64(time.Now().UnixMilli()), Member: "broken"})
	waitStep("invalid", 3)
	stopPipeline()
	<-done

	by := rows()
	for _, s := range []handlers.Step{handlers.StepDelivered, handlers.StepSkippedStale, handlers.StepSkippedUnchanged, handlers.StepSkippedLoop,
		handlers.StepParked, handlers.StepReleased, handlers.StepRetryScheduled, handlers.StepDead, handlers.StepInvalid, handlers.StepReplayed} {
		if by[string(s)] == 0 {
			t.Fatalf("no %s row: %v", s, by)
		}
	}
	var replayed map[string]any
	for _, r := range rdb.XRange(ctx, keys.Attempts, "-", "+").Val() {
		if r.Values["step"] == "replayed" {
			replayed = r.Values
		}
	}
	if replayed["version"] != "0" || replayed["error"] == "" {
		t.Fatalf("replayed row of version v1: %v", replayed)
	}
	total := uint64(rdb.XLen(ctx, keys.Attempts).Val())
	x := runExporter(t, ExporterConfig{Stream: keys.Attempts, Consumer: "x", Database: db, FlushInterval: 20 * time.Millisecond,
		SpoolDir: t.TempDir()}, rdb, conn)
	testenv.WaitFor(t, 20*time.Second, "every row in ClickHouse", func() bool { return distinctRows(conn, db) == total })
	if n := testutil.ToFloat64(x.x.m.dropped); n != 0 {
		t.Fatalf("%v rows dropped", n)
	}
	steps := []string{}
	r, err := conn.Query(ctx, "SELECT DISTINCT step FROM "+db+".attempts")
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var s string
		_ = r.Scan(&s)
		steps = append(steps, s)
	}
	if len(steps) != len(by) || !slices.Contains(steps, "replayed") {
		t.Fatalf("steps in ClickHouse %v, in Redis %v", steps, by)
	}
}
