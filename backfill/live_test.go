package backfill_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/backfill"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/ingest"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/pipeline"
	"github.com/streamsync/streamsync/pipeline/ordered"
	"github.com/streamsync/streamsync/sinks/partner"
)

// pipelineRedis is the pipeline's own client, sized as `streamsync run`
// sizes it: the pipeline is a process of its own beside the backfill.
func pipelineRedis(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), PoolSize: 256})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// runPipeline runs the pipeline on the env's keys against a fresh partnersim.
func runPipeline(t *testing.T, e env) *partnersim.Server {
	t.Helper()
	sim, err := partnersim.New(partnersim.Options{IdemMax: 100000})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	sink, err := partner.New(partner.Config{BaseURL: srv.URL, Timeout: 5 * time.Second, MaxConns: 256})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	p, err := pipeline.New(pipeline.Config{
		Keys: e.keys, Consumer: "c1", PartnerName: "partner",
		Retry:   handlers.RetryPolicy{Initial: 50 * time.Millisecond, Max: time.Second, MaxAttempts: 15},
		MaxWait: time.Minute, MoveEvery: 10 * time.Millisecond,
		Subscriber: ordered.Config{Block: 50 * time.Millisecond, Batch: 512, MaxInFlight: 1024},
	}, pipelineRedis(t), sink)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-p.Running():
	case <-time.After(10 * time.Second):
		t.Fatal("pipeline did not start")
	}
	return sim
}

// liveRecords is the backfill's size beside live events: 20,000 records;
// race_test.go lowers it under the race detector, which slows the pipeline about
// tenfold (`go test ./backfill` runs the full size).
var liveRecords = 20000

// A backfill of 20,000 records into an empty partner while live events for
// the same records (higher versions) flow: the partner ends with, for each
// record, the highest version of either.
func TestBackfillWithLiveEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	e := newEnv(t)
	sim := runPipeline(t, e)
	n := liveRecords
	src := fileSource(t, n)

	want := make(map[string]int64, n) // key → highest version
	for i := range n {
		want[fmt.Sprintf("k%d", i)] = rec(i).Version
	}
	// Live events: every 7th record changes (twice for some), with versions
	// above the source's, appended while the backfill runs.
	var live [][]event.Event
	var batch []event.Event
	for i := 0; i < n; i += 7 {
		r := rec(i)
		v := r.Version + 1 + int64(i%3)
		batch = append(batch, event.Event{ID: "live-" + strconv.Itoa(i), Account: r.Account, Entity: "sub", Key: r.Key,
			Op: event.OpUpsert, Version: v, Origin: "crm", Data: []byte(fmt.Sprintf(`{"i":%d,"from":"live"}`, i))})
		want[r.Key] = v
		if len(batch) == 100 {
			live, batch = append(live, batch), nil
		}
	}
	live = append(live, batch)
	liveDone := make(chan error, 1)
	go func() {
		for _, b := range live {
			if err := ingest.Append(context.Background(), e.rdb, e.keys.Events, b); err != nil {
				liveDone <- err
				return
			}
			time.Sleep(5 * time.Millisecond) // live traffic trickles in beside the backfill
		}
		liveDone <- nil
	}()

	cfg := e.config()
	cfg.Rate = -1
	b, err := backfill.New(cfg, e.rdb, src)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	sum, err := b.Run(context.Background())
	if err != nil || sum.Appended != int64(n) {
		t.Fatalf("%+v %v", sum, err)
	}
	t.Logf("backfill: %d records in %d ms (%.0f records/s)", sum.Appended, sum.DurationMS, sum.PerSecond)
	if err := <-liveDone; err != nil {
		t.Fatal(err)
	}
	// The pipeline has drained when nothing is lagging, pending or waiting;
	// only then is the partner's state worth comparing (a snapshot of 20,000
	// records is not free).
	wrong := "not drained"
	deadline := time.Now().Add(3 * time.Minute)
	for wrong != "" {
		if time.Now().After(deadline) {
			t.Fatalf("partner not at the highest versions: %s", wrong)
		}
		time.Sleep(100 * time.Millisecond) // poll interval
		st, err := inspect.ReadStatus(context.Background(), e.rdb, e.keys)
		if err != nil || st.Lag != 0 || st.Pending != 0 || st.Delayed != 0 || st.Retrying != 0 {
			continue
		}
		got := map[string]int64{}
		for _, r := range sim.Snapshot("").Records {
			got[r.Key] = r.Version
		}
		wrong = ""
		if len(got) != n {
			wrong = fmt.Sprintf("%d records of %d", len(got), n)
		}
		for k, v := range want {
			if wrong == "" && got[k] != v {
				wrong = fmt.Sprintf("%s at %d, want %d", k, got[k], v)
			}
		}
	}
	t.Logf("partner converged %s after the backfill began", time.Since(began).Round(time.Millisecond))
	dead, err := e.rdb.XLen(context.Background(), e.keys.Dead).Result()
	if err != nil && err != redis.Nil {
		t.Fatal(err)
	}
	if dead != 0 {
		t.Fatalf("%d dead letters", dead)
	}
}
