package attemptlog

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// A page of a few chains starts from a few candidates: when the most recent
// are rows their chains have moved on from, the candidates widen until the
// page holds the newest chains that did fail, and says there are more.
func TestFailedChainsCandidatesWiden(t *testing.T) {
	conn, db := schemaConn(t)
	ctx := context.Background()
	if err := conn.Exec(ctx, "SYSTEM STOP MERGES `"+db+"`.`"+ChainEndsTable+"`"); err != nil {
		t.Fatal(err)
	}
	var died, delivered []Row
	for i := range 50 {
		id := fmt.Sprint("moved-", i)
		died = append(died, partnerRow("crm", id, "main", id, "dead", 1, 422, "422", 10*time.Minute))
		delivered = append(delivered, partnerRow("crm", id, "main", id, "delivered", 2, 200, "", 5*time.Minute))
	}
	for i, ago := range []time.Duration{20, 21, 22, 30, 31} {
		id := fmt.Sprint("dead-", i)
		died = append(died, partnerRow("crm", id, "main", id, "dead", 1, 422, "422", ago*time.Minute))
	}
	for _, rows := range [][]Row{died, delivered} {
		if err := Insert(ctx, conn, db, rows); err != nil {
			t.Fatal(err)
		}
	}
	since := time.Now().Add(-time.Hour)
	for limit, want := range map[int][]string{2: {"dead-0", "dead-1"}, 4: {"dead-0", "dead-1", "dead-2", "dead-3"}, 5: {"dead-0", "dead-1", "dead-2", "dead-3", "dead-4"}} {
		chains, truncated, err := Chains(ctx, conn, db, ChainFilter{Since: since, Stuck: 5 * time.Minute, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(chains), want) || truncated != (limit < 5) {
			t.Fatalf("limit %d: failed chains %v (truncated %v), want %v (truncated %v)", limit, ids(chains), truncated, want, limit < 5)
		}
	}
	// The narrowed sets answer as the file's own (every candidate).
	c, err := findCandidates(ctx, conn, db, map[string]any{"since": since.UTC()}, 6)
	if err != nil {
		t.Fatal(err)
	}
	if c.all || len(c.chains.Value) != 6 {
		t.Fatalf("6 candidate rows: %d chains, all=%v; want 6 of the moved chains, not all", len(c.chains.Value), c.all)
	}
}
