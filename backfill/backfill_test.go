package backfill_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamsync/streamsync/backfill"
)

// Every record becomes one upsert: id bf-<run>-<n>, origin backfill, the
// record's account, version and data.
func TestBackfillAppendsEveryRecordOnce(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.Rate = -1
	b, err := backfill.New(cfg, e.rdb, fileSource(t, 1234))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := b.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Complete || sum.Records != 1234 || sum.Appended != 1234 || sum.RunID != b.RunID() {
		t.Fatalf("summary %+v", sum)
	}
	by, all := e.streamed(t)
	if len(by) != 1234 || len(all) != 1234 {
		t.Fatalf("%d keys, %d entries, want 1234 each", len(by), len(all))
	}
	ids := map[string]bool{}
	for _, f := range all {
		ids[f["id"].(string)] = true
		if f["origin"] != "backfill" || f["op"] != "upsert" || !strings.HasPrefix(f["id"].(string), "bf-"+b.RunID()+"-") {
			t.Fatalf("entry %v", f)
		}
	}
	if !ids["bf-"+b.RunID()+"-1"] || !ids["bf-"+b.RunID()+"-1234"] || len(ids) != 1234 {
		t.Fatalf("ids are not bf-%s-1..1234", b.RunID())
	}
	f := all[7]
	if f["key"] != "k7" || f["account"] != "a7" || f["version"] != "107" || f["data"] != `{"i":7,"from":"source"}` {
		t.Fatalf("entry 7: %v", f)
	}
}

// An interrupted run, resumed, appends every record exactly once (HTTP
// source, pages that batches split).
func TestBackfillResumeEveryRecordOnce(t *testing.T) {
	e := newEnv(t)
	const n = 400
	src := httpSource(t, n, 70)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := e.config()
	cfg.Rate = 300 // batches of 30 over pages of 70: the interrupt falls inside a page
	cfg.Progress = &hook{fn: func(total int, _ time.Time) {
		if total >= 100 {
			cancel()
		}
	}}
	b, err := backfill.New(cfg, e.rdb, src)
	if err != nil {
		t.Fatal(err)
	}
	first, err := b.Run(ctx)
	if !errors.Is(err, context.Canceled) || first.Complete || err.Error() != "backfill "+b.RunID()+" interrupted; continue with --resume "+b.RunID() {
		t.Fatalf("interrupted run: %+v, %v", first, err)
	}
	if first.Appended == 0 || first.Appended >= n {
		t.Fatalf("interrupted run appended %d", first.Appended)
	}

	cfg = e.config()
	cfg.Rate = -1
	cfg.Resume = b.RunID()
	r, err := backfill.New(cfg, e.rdb, src)
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !second.Complete || !second.Resumed || first.Appended+second.Appended != n || second.RunAppended != n {
		t.Fatalf("first %+v, second %+v", first, second)
	}
	by, all := e.streamed(t)
	if len(all) != n || len(by) != n {
		t.Fatalf("%d entries for %d keys, want %d of each", len(all), len(by), n)
	}
	for k, ids := range by {
		if len(ids) != 1 {
			t.Fatalf("%s appended %d times: %v", k, len(ids), ids)
		}
	}
	seen := map[string]bool{}
	for _, f := range all {
		id := f["id"].(string)
		if seen[id] {
			t.Fatalf("id %s twice", id)
		}
		seen[id] = true
	}

	// A run that does not exist is a clear error.
	cfg.Resume = "nope"
	if x, err := backfill.New(cfg, e.rdb, src); err == nil {
		if _, err = x.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "no such run") {
			t.Fatalf("resume of an unknown run: %v", err)
		}
	}
}

// --rate is respected: at no moment has the run appended more than the
// limit allows since it began, plus one burst.
func TestBackfillRateLimit(t *testing.T) {
	e := newEnv(t)
	const perSecond, n = 2000.0, 1500
	const burst = 100 // a batch: perSecond/10, at most 100
	var mu sync.Mutex
	var over []string
	var start time.Time
	cfg := e.config()
	cfg.Rate = perSecond
	cfg.Progress = &hook{fn: func(total int, at time.Time) {
		allowed := perSecond*at.Sub(start).Seconds() + burst
		if float64(total) > allowed {
			mu.Lock()
			over = append(over, fmt.Sprintf("%d records after %s (allowed %.0f)", total, at.Sub(start), allowed))
			mu.Unlock()
		}
	}}
	b, err := backfill.New(cfg, e.rdb, fileSource(t, n))
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	sum, err := b.Run(context.Background())
	elapsed := time.Since(start)
	if err != nil || sum.Appended != n {
		t.Fatalf("%+v %v", sum, err)
	}
	if len(over) > 0 {
		t.Fatalf("above --rate: %v", over)
	}
	if got := float64(n) / elapsed.Seconds(); got > perSecond+burst/elapsed.Seconds() {
		t.Fatalf("%.0f records/s, limit %.0f", got, perSecond)
	}
}

type fakeReplayer struct {
	reasons []string
	since   time.Time
}

func (f *fakeReplayer) ReplayDead(_ context.Context, reasons []string, since time.Time) (int, error) {
	f.reasons, f.since = reasons, since
	return 3, nil
}

// --replay-dead replays, at the end, parent_missing and exhausted dead
// letters that died since the run began.
func TestBackfillReplayDeadAtTheEnd(t *testing.T) {
	e := newEnv(t)
	began := time.UnixMilli(1_800_000_000_000)
	r := &fakeReplayer{}
	cfg := e.config()
	cfg.Rate, cfg.ReplayDead, cfg.Replayer, cfg.Now = -1, true, r, func() time.Time { return began }
	b, err := backfill.New(cfg, e.rdb, fileSource(t, 10))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := b.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.ReplayedDead != 3 || strings.Join(r.reasons, ",") != "parent_missing,exhausted" || !r.since.Equal(began) {
		t.Fatalf("summary %+v, replayer %+v", sum, r)
	}
}

func TestBackfillNeedsASource(t *testing.T) {
	e := newEnv(t)
	if _, err := backfill.New(e.config(), e.rdb, nil); err == nil || !strings.Contains(err.Error(), "source.kind") {
		t.Fatalf("err %v, want one naming source.kind", err)
	}
}
