package attemptlog

import (
	"context"
	"testing"

	"github.com/streamsync/streamsync/internal/streams"
	"github.com/streamsync/streamsync/internal/testenv"
)

// The pipeline writes rows with exactly the columns the table has, but
// the partner and the direction, which the exporter adds.
func TestColumnsMatchThePipelineRows(t *testing.T) {
	n := len(streams.RowColumns)
	if len(Columns) != n+2 || Columns[n].Name != PartnerColumn || Columns[n+1].Name != DirectionColumn {
		t.Fatalf("%d columns, the pipeline writes %d, and partner and direction last", len(Columns), n)
	}
	for i, c := range Columns[:len(streams.RowColumns)] {
		if c.Name != streams.RowColumns[i] {
			t.Errorf("column %d is %s, the pipeline writes %s", i, c.Name, streams.RowColumns[i])
		}
	}
}

func columnsOf(t *testing.T, db string) map[string]string {
	t.Helper()
	conn, _ := testenv.ClickHouse(t)
	rows, err := conn.Query(context.Background(), "SELECT name, type FROM system.columns WHERE database = ? AND table = 'attempts'", db)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var n, ty string
		_ = rows.Scan(&n, &ty)
		got[n] = ty
	}
	return got
}

func TestSchemaOnAnEmptyServer(t *testing.T) {
	conn, db := testenv.ClickHouse(t)
	ctx := context.Background()
	for range 2 { // idempotent
		if err := EnsureSchema(ctx, conn, db); err != nil {
			t.Fatal(err)
		}
	}
	got := columnsOf(t, db)
	for _, c := range Columns {
		if got[c.Name] != c.Type {
			t.Errorf("column %s: %q, want %q", c.Name, got[c.Name], c.Type)
		}
	}
	var engine, sortKey string
	if err := conn.QueryRow(ctx, "SELECT engine, sorting_key FROM system.tables WHERE database = ? AND name = 'attempts'", db).Scan(&engine, &sortKey); err != nil {
		// 18.16 has no sorting_key column: ask for the engine alone.
		if err := conn.QueryRow(ctx, "SELECT engine FROM system.tables WHERE database = ? AND name = 'attempts'", db).Scan(&engine); err != nil {
			t.Fatal(err)
		}
	}
	if engine != "ReplacingMergeTree" {
		t.Fatalf("engine %s", engine)
	}
}

// An attempts table from an older streamsync gets the columns it lacks.
func TestSchemaUpgradesAnOlderTable(t *testing.T) {
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
	if err := EnsureSchema(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	got := columnsOf(t, db)
	for _, c := range Columns {
		if got[c.Name] != c.Type {
			t.Errorf("column %s: %q, want %q", c.Name, got[c.Name], c.Type)
		}
	}
}
