package chainload

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// A small load: the rows asked for, in the table the pipeline makes, with
// the shape the benchmark promises (dead share, children of the same
// account, stuck chains, stuck parents stranding a child parked before
// them, duplicates of a row_id), and every question answers over it.
func TestLoadSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ClickHouse")
	}
	conn, db := testenv.ClickHouse(t)
	ctx := context.Background()
	const n = 20_000
	l, err := Load(ctx, conn, db, LoadConfig{Rows: n, ChunkChains: 2_000, DuplicateEvery: 100})
	if err != nil {
		t.Fatal(err)
	}
	if l.Rows != n || l.Duplicates == 0 {
		t.Fatalf("loaded %+v, want %d rows and some duplicates", l, n)
	}
	var rows, ids, chains, dead, accounts, strays uint64
	q := "SELECT count(), uniqExact(row_id), uniqExact(chain_id), uniqExactIf(chain_id, step = 'dead'), uniqExact(account) FROM `" + db + "`.attempts"
	if err := conn.QueryRow(ctx, q).Scan(&rows, &ids, &chains, &dead, &accounts); err != nil {
		t.Fatal(err)
	}
	if rows != n+l.Duplicates || ids != n {
		t.Errorf("%d rows, %d distinct row_id; want %d and %d", rows, ids, n+l.Duplicates, n)
	}
	if perChain := float64(n) / float64(chains); perChain < 3 || perChain > 4 {
		t.Errorf("%.2f rows a chain, want 3–4", perChain)
	}
	if share := float64(dead) / float64(chains); share < 0.005 || share > 0.02 {
		t.Errorf("%d of %d chains dead (%.2f %%), want about 1 %%", dead, chains, 100*share)
	}
	if accounts < 1000 || accounts > Accounts {
		t.Errorf("%d accounts, want most of %d", accounts, Accounts)
	}
	// Every child's parent is a chain of the same account in the table.
	q = "SELECT count() FROM (SELECT DISTINCT account, parent_entity, parent_key FROM `" + db + "`.attempts WHERE parent_key != '') " +
		"WHERE (account, parent_entity, parent_key) NOT IN (SELECT account, entity, key FROM `" + db + "`.attempts)"
	if err := conn.QueryRow(ctx, q).Scan(&strays); err != nil {
		t.Fatal(err)
	}
	if strays != 0 {
		t.Errorf("%d children whose parent is not a chain of their account", strays)
	}
	for _, tm := range Measure(ctx, conn, db) {
		if tm.Err != nil {
			t.Errorf("%s: %v", tm.Question, tm.Err)
		}
		if tm.Rows == 0 {
			t.Errorf("%s answered no rows", tm.Question)
		}
	}
	failed, _, err := attemptlog.Chains(ctx, conn, db, attemptlog.ChainFilter{Since: time.Now().Add(-time.Hour), Stuck: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var stuck, strands int
	for _, c := range failed {
		if !strings.Contains("dead invalid", c.LastStep) {
			stuck++
			if c.Entity == "contact" && c.Stranded > 0 {
				strands++ // its child parked before its first step
			}
		}
	}
	if stuck == 0 || stuck == len(failed) {
		t.Errorf("%d of %d failed chains stuck, want some", stuck, len(failed))
	}
	if strands == 0 {
		t.Errorf("no stuck parent strands a child, want the children posted before their parents counted")
	}
}
