package attemptlog

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/streamsync/streamsync/internal/testenv"
)

func chainIDs(t *testing.T, conn driver.Conn, db string) map[string]Chain {
	t.Helper()
	chains, _, err := Chains(context.Background(), conn, db, ChainFilter{Since: time.Now().Add(-time.Hour), Stuck: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Chain{}
	for _, c := range chains {
		got[c.ChainID] = c
	}
	return got
}

func countRows(t *testing.T, conn driver.Conn, db, table string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM `"+db+"`.`"+table+"`").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func countChains(t *testing.T, conn driver.Conn, db, table string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT uniqExact(chain_id) FROM `"+db+"`.`"+table+"`").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// An attempts table from before chain_ends: its rows, over two days, are
// copied into chain_ends once, so its failed and stuck chains are found.
func TestChainEndsFilledFromAnOlderTable(t *testing.T) {
	conn, db := testenv.ClickHouse(t)
	ctx := context.Background()
	if err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	old := "CREATE TABLE " + db + ".attempts (ts DateTime('UTC'), event_id String, row_id String, account String, chain_id String, step String) " +
		"ENGINE = ReplacingMergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY (account, chain_id, row_id)"
	if err := conn.Exec(ctx, old); err != nil {
		t.Fatal(err)
	}
	// D died 20 minutes ago; S has waited since 10 minutes ago; OK was
	// delivered after a retry; Y died two days ago (another partition,
	// outside the hour).
	ins := "INSERT INTO " + db + ".attempts (ts, event_id, row_id, account, chain_id, step) " +
		"SELECT now() - toUInt32(arrayElement([1200, 1300, 600, 500, 400, 172800], number + 1)), 'e', toString(number), 'acc1', " +
		"arrayElement(['D', 'D', 'S', 'OK', 'OK', 'Y'], number + 1), arrayElement(['dead', 'retry_scheduled', 'retry_scheduled', 'retry_scheduled', 'delivered', 'dead'], number + 1) " +
		"FROM system.numbers LIMIT 6"
	if err := conn.Exec(ctx, ins); err != nil {
		t.Fatal(err)
	}
	if err := EnsureSchema(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	got := chainIDs(t, conn, db)
	if len(got) != 2 || got["D"].LastStep != "dead" || len(got["D"].Steps) != 2 || got["S"].LastStep != "retry_scheduled" {
		t.Fatalf("chains after the upgrade: %+v; want D dead (2 steps) and S stuck", got)
	}
	// (Chains, not rows: the fill goes an hour a statement, and a chain
	// whose rows straddle an hour has a row in each.)
	n := countRows(t, conn, db, ChainEndsTable)
	if c := countChains(t, conn, db, ChainEndsTable); c != 4 {
		t.Fatalf("chain_ends holds %d chains; want 4 (D, S, OK, and Y in its own day)", c)
	}
	// chain_waits: the failing and waiting ones only (OK's latest step is
	// delivered).
	w := countRows(t, conn, db, ChainWaitsTable)
	if c := countChains(t, conn, db, ChainWaitsTable); c != 3 {
		t.Fatalf("chain_waits holds %d chains; want 3 (D, S, Y)", c)
	}
	// Filled once: a second start copies nothing again.
	if err := EnsureSchema(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	if n2 := countRows(t, conn, db, ChainEndsTable); n2 != n {
		t.Fatalf("chain_ends holds %d rows after a second start, %d before", n2, n)
	}
	if w2 := countRows(t, conn, db, ChainWaitsTable); w2 != w {
		t.Fatalf("chain_waits holds %d rows after a second start, %d before", w2, w)
	}
}

// Rows bulk-loaded into attempts (INSERT … SELECT, not the exporter)
// reach chain_ends through the view; a chain that moved on in a later
// insert is not answered, and a row inserted twice is one step.
func TestChainEndsSeesABulkLoad(t *testing.T) {
	conn, db := testenv.ClickHouse(t)
	ctx := context.Background()
	if err := EnsureSchema(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	load := func(chain string, agos []int, steps []string) {
		t.Helper()
		q := "INSERT INTO `" + db + "`.attempts (ts, ts_ms, event_id, row_id, account, chain_id, step, partner) " +
			"SELECT now() - toUInt32(arrayElement(?, number + 1)), 0, ?, concat(?, toString(number)), 'acc1', ?, arrayElement(?, number + 1), 'erp' " +
			"FROM system.numbers LIMIT ?"
		if err := conn.Exec(ctx, q, agos, chain, chain+":"+steps[0], chain, steps, len(steps)); err != nil {
			t.Fatal(err)
		}
	}
	load("DEAD", []int{900, 800}, []string{"retry_scheduled", "dead"})
	load("DEAD", []int{900, 800}, []string{"retry_scheduled", "dead"}) // an export retried
	load("MOVED", []int{700}, []string{"retry_scheduled"})
	load("MOVED", []int{650}, []string{"delivered"}) // a later insert, not merged yet
	got := chainIDs(t, conn, db)
	var ids []string
	for id := range got {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if len(got) != 1 || got["DEAD"].LastStep != "dead" || len(got["DEAD"].Steps) != 2 || got["DEAD"].Partner != "erp" {
		t.Fatalf("chains %v: %+v; want DEAD alone, dead, its 2 steps once each", ids, got)
	}
	// chain_waits keeps MOVED's superseded wait (it never forgets one):
	// the answer above is decided from attempts, not from it.
	var waits []string
	// (DISTINCT: the retried export's copy is there until a merge.)
	rows, err := conn.Query(ctx, "SELECT DISTINCT concat(chain_id, ':', last_step) AS w FROM `"+db+"`.chain_waits ORDER BY w")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var w string
		if err := rows.Scan(&w); err != nil {
			t.Fatal(err)
		}
		waits = append(waits, w)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 2 || waits[0] != "DEAD:dead" || waits[1] != "MOVED:retry_scheduled" {
		t.Fatalf("chain_waits rows %v; want DEAD's dead and MOVED's superseded retry_scheduled", waits)
	}
}

// A table a former release derived (chain_stats) is dropped with its view
// and fill marker at the next start, so its view no longer costs inserts.
func TestRetiredDerivedTableDropped(t *testing.T) {
	conn, db := schemaConn(t)
	ctx := context.Background()
	for _, q := range []string{
		"CREATE TABLE `" + db + "`.chain_stats (minute DateTime('UTC'), n UInt64) ENGINE = MergeTree ORDER BY minute",
		"CREATE MATERIALIZED VIEW `" + db + "`.chain_stats_mv TO `" + db + "`.chain_stats AS SELECT toStartOfMinute(ts) AS minute, count() AS n FROM `" + db + "`.attempts GROUP BY minute",
		"CREATE TABLE `" + db + "`.chain_stats_filled (filled DateTime('UTC')) ENGINE = TinyLog",
	} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := EnsureSchema(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	for _, tb := range []string{"chain_stats", "chain_stats_mv", "chain_stats_filled"} {
		if ok, err := tableExists(ctx, conn, db, tb); err != nil || ok {
			t.Errorf("%s still there after a start (%v)", tb, err)
		}
	}
	if ok, err := tableExists(ctx, conn, db, ChainMinutesTable); err != nil || !ok {
		t.Errorf("%s not made (%v)", ChainMinutesTable, err)
	}
}
