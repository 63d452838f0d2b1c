package reconcile_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/streamsync/streamsync/reconcile"
)

// TestNoEntityIsNotEqual: against an empty ledger with no --entity nothing is
// compared, however many records the partner holds; the run fails (exit 2)
// telling what to give, and a scheduled run counts it as failed.
func TestNoEntityIsNotEqual(t *testing.T) {
	w := newWorld(t)
	w.seed(w.theirs, rec("reg", "k1", "acc-1", 1, `{"a":1}`), rec("reg", "k2", "acc-1", 1, `{"a":2}`))
	rep, err := w.reconciler(reconcile.Config{}, false).Run(context.Background())
	if !errors.Is(err, reconcile.ErrNoEntities) || rep.Status != reconcile.StatusFailed || rep.ExitCode() != 2 {
		t.Fatalf("no entity against an empty ledger: status %s exit %d err %v", rep.Status, rep.ExitCode(), err)
	}
	for _, want := range []string{"--entity", "source.entities", "ledger has seen no entity"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not mention %q", err, want)
		}
	}

	reg := prometheus.NewRegistry()
	s, err := reconcile.NewScheduler(reconcile.ScheduleConfig{Every: time.Hour, LockKey: w.keys.ReconcileLock(), LastKey: w.keys.ReconcileLast(),
		Registerer: reg}, w.rdb, w.reconciler(reconcile.Config{}, false))
	if err != nil {
		t.Fatal(err)
	}
	ran, rep, err := s.TryRun(context.Background())
	if !ran || !errors.Is(err, reconcile.ErrNoEntities) || rep.Status != reconcile.StatusFailed {
		t.Fatalf("scheduled run: ran %v status %s err %v", ran, rep.Status, err)
	}
	mfs, _ := reg.Gather()
	var failed float64
	for _, mf := range mfs {
		if mf.GetName() == "streamsync_reconcile_runs_total" {
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == reconcile.StatusFailed {
					failed = m.GetCounter().GetValue()
				}
			}
		}
	}
	if failed != 1 {
		t.Fatalf("streamsync_reconcile_runs_total{status=failed} = %v, want 1", failed)
	}
	if n, _ := testutil.GatherAndCount(reg, "streamsync_reconcile_last_success_timestamp_seconds"); n != 1 {
		t.Fatal("no last-success gauge")
	} else if v := testutil.ToFloat64(gaugeOf(t, reg, "streamsync_reconcile_last_success_timestamp_seconds")); v != 0 {
		t.Fatalf("a failed run set the last success to %v", v)
	}
}

// TestDiffsHintNamesDatabase: the table output's hint for more differences
// names the database reconcile_diffs is in.
func TestDiffsHintNamesDatabase(t *testing.T) {
	rep := reconcile.Report{RunID: "r1", Database: "mydb", Status: reconcile.StatusDifferences, Missing: 3,
		Differences: []reconcile.Diff{{Class: reconcile.ClassMissing, Entity: "reg", Key: "k1"}}}
	var b bytes.Buffer
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "SELECT * FROM mydb.reconcile_diffs WHERE run_id = 'r1'") {
		t.Fatalf("hint does not name the database:\n%s", b.String())
	}
}

func gaugeOf(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
			g.Set(mf.GetMetric()[0].GetGauge().GetValue())
			return g
		}
	}
	t.Fatalf("no %s", name)
	return nil
}
