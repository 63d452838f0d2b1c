package reconcile_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/reconcile"
)

// TestScheduledRunsOnce: two processes whose schedules come due at the same
// moment run one reconciliation between them; a lock left by a crashed
// holder expires.
func TestScheduledRunsOnce(t *testing.T) {
	w := newWorld(t)
	seedClasses(w)
	regs := []*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry()}
	var scheds []*reconcile.Scheduler
	for i := range 2 {
		s, err := reconcile.NewScheduler(reconcile.ScheduleConfig{Every: time.Hour, LockKey: w.keys.ReconcileLock(), LastKey: w.keys.ReconcileLast(),
			LockTTL: 300 * time.Millisecond, Registerer: regs[i]}, w.rdb, w.reconciler(reconcile.Config{Entities: []string{"reg"}}, true))
		if err != nil {
			t.Fatal(err)
		}
		scheds = append(scheds, s)
	}
	var wg sync.WaitGroup
	ran := make([]bool, 2)
	for i, s := range scheds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _, err := s.TryRun(context.Background())
			if err != nil {
				t.Error(err)
			}
			ran[i] = r
		}()
	}
	wg.Wait()
	if ran[0] == ran[1] {
		t.Fatalf("ran %v: want exactly one of the two processes to run", ran)
	}
	runner := 0
	if ran[1] {
		runner = 1
	}
	for _, s := range scheds { // not due again within the hour, whoever asks
		if r, _, _ := s.TryRun(context.Background()); r {
			t.Fatal("a second run within reconcile.every")
		}
	}
	if got := testutil.ToFloat64(metricOf(t, regs[runner], "missing")); got != 1 {
		t.Fatalf("streamsync_reconcile_differences{class=missing} = %v, want 1", got)
	}
	if n, _ := testutil.GatherAndCount(regs[runner], "streamsync_reconcile_last_success_timestamp_seconds"); n != 1 {
		t.Fatal("no last-success metric")
	}

	// A holder that crashed leaves its lock; it expires after its TTL.
	w.rdb.Del(context.Background(), w.keys.ReconcileLast())
	w.rdb.Set(context.Background(), w.keys.ReconcileLock(), "crashed-holder", 300*time.Millisecond)
	if r, _, _ := scheds[0].TryRun(context.Background()); r {
		t.Fatal("ran while another holder had the lock")
	}
	testenv.WaitFor(t, 10*time.Second, "the crashed holder's lock to expire and a run to happen", func() bool {
		r, _, err := scheds[0].TryRun(context.Background())
		return err == nil && r
	})

	// The operators' page reads the runs through the admin API.
	srv := httptest.NewServer(reconcile.RunsHandler(w.conn, w.db))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "?limit=5")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Runs []reconcile.Report `json:"runs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.Runs) != 2 {
		t.Fatalf("runs: %+v %v", body, err)
	}
	if r := body.Runs[0]; r.Missing != 1 || r.Status != "differences" || len(r.Differences) != 5 {
		t.Fatalf("latest run as the API shows it: %+v", r)
	}
}

// metricOf is the differences gauge of one class.
func metricOf(t *testing.T, reg *prometheus.Registry, class string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "streamsync_reconcile_differences" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "class" && l.GetValue() == class {
					g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
					g.Set(m.GetGauge().GetValue())
					return g
				}
			}
		}
	}
	t.Fatalf("no streamsync_reconcile_differences{class=%q}", class)
	return nil
}
