package attemptlog

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"
)

// A wide window cannot make Chains' answer grow without bound: at most
// Limit chains, the most recent, with truncated saying more matched, and
// at most MaxChainSteps steps a chain (its last ones), StepsTotal counting
// them all.
func TestChainsBounded(t *testing.T) {
	conn, db := schemaConn(t)
	ctx := context.Background()
	now := time.Now()
	var rows []Row
	add := func(chain, step string, n int, ago time.Duration) {
		at := now.Add(-ago)
		rows = append(rows, Row{"ts": strconv.FormatInt(at.Unix(), 10), "ts_ms": "0", "event_id": chain, "chain_id": chain,
			"row_id": fmt.Sprintf("%s:%d", chain, n), "stream_id": fmt.Sprintf("%d-0", n), "account": "acc", "entity": "main", "key": chain,
			"op": "upsert", "version": "1", "attempt": "0", "step": step, "http_status": "0", "latency_us": "0", "error": "", "instance": "i1"})
	}
	// "long": the same id appended again and again, then dead-lettered.
	for i := range MaxChainSteps + 50 {
		add("long", "skipped_stale", i, 40*time.Minute-time.Duration(i)*time.Second)
	}
	add("long", "dead", MaxChainSteps+50, 30*time.Minute)
	for i := range 5 {
		add(fmt.Sprint("c", i), "dead", 0, time.Duration(i+1)*time.Minute)
	}
	if err := Insert(ctx, conn, db, rows); err != nil {
		t.Fatal(err)
	}
	since := now.Add(-time.Hour)
	got, truncated, err := Chains(ctx, conn, db, ChainFilter{Since: since, Stuck: 5 * time.Minute, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !truncated || got[0].ChainID != "c0" || got[2].ChainID != "c2" {
		t.Fatalf("limit 3 of 6: %d chains (%v), truncated %v", len(got), ids(got), truncated)
	}
	all, truncated, err := Chains(ctx, conn, db, ChainFilter{Since: since, Stuck: 5 * time.Minute})
	if err != nil || truncated || len(all) != 6 {
		t.Fatalf("all: %d chains, truncated %v, %v", len(all), truncated, err)
	}
	long := all[5]
	if long.ChainID != "long" || len(long.Steps) != MaxChainSteps || long.StepsTotal != MaxChainSteps+51 ||
		long.Steps[len(long.Steps)-1].Step != "dead" || long.LastStep != "dead" {
		t.Fatalf("long chain: %s, %d steps listed of %d, last %q", long.ChainID, len(long.Steps), long.StepsTotal, long.LastStep)
	}
	if all[0].StepsTotal != 0 {
		t.Fatalf("a short chain says it was clipped: %+v", all[0])
	}
}

func ids(chains []Chain) []string {
	var out []string
	for _, c := range chains {
		out = append(out, c.ChainID)
	}
	return out
}
