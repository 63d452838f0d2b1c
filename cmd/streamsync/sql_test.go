package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/sinks/attemptlog"
	"github.com/streamsync/streamsync/sql"
)

// `streamsync sql` lists the queries; `sql NAME` runs one with its flags
// bound on the client side (ClickHouse 18.16), the files' defaults otherwise.
func TestSQLCommand(t *testing.T) {
	conn, db := testenv.ClickHouse(t)
	ctx := context.Background()
	if err := attemptlog.EnsureSchema(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	row := func(chain, step, errText string, ago time.Duration) attemptlog.Row {
		at := time.Now().Add(-ago)
		return attemptlog.Row{"ts": strconv.FormatInt(at.Unix(), 10), "ts_ms": "0", "event_id": chain, "row_id": chain + ":" + step,
			"stream_id": "1-0", "account": "acc", "entity": "main", "key": chain, "chain_id": chain, "op": "upsert", "version": "1",
			"attempt": "1", "step": step, "http_status": "422", "latency_us": "10", "error": errText, "instance": "t"}
	}
	if err := attemptlog.Insert(ctx, conn, db, []attemptlog.Row{
		row("recent", "dead", "422 recent", 10*time.Minute),
		row("old", "dead", "422 old", 3*time.Hour),
		row("waiting", "parked", "parent main/x not at the partner yet", time.Minute),
	}); err != nil {
		t.Fatal(err)
	}
	env := []string{"STREAMSYNC_CLICKHOUSE__ADDR=" + testenv.ClickHouseAddr(t), "STREAMSYNC_CLICKHOUSE__DATABASE=" + db}

	out, err := cli(t, env, "sql")
	if err != nil || !strings.HasPrefix(out, "QUERY") {
		t.Fatalf("sql: %v\n%s", err, out)
	}
	for _, n := range sql.Names() {
		if !strings.Contains(out, n) {
			t.Errorf("sql lists no %s:\n%s", n, out)
		}
	}
	out, err = cli(t, env, "sql", "top_errors")
	if err != nil || !strings.HasPrefix(out, "PARTNER  ERROR") || !strings.Contains(out, "422 recent") || strings.Contains(out, "422 old") || strings.Contains(out, "parked") {
		t.Fatalf("sql top_errors (the last hour, failures only): %v\n%s", err, out)
	}
	out, err = cli(t, env, "sql", "top_errors", "--since", "6h", "--format", "json")
	var ans struct {
		Rows []map[string]any `json:"rows"`
	}
	if err != nil || json.Unmarshal([]byte(out), &ans) != nil || len(ans.Rows) != 2 {
		t.Fatalf("sql top_errors --since 6h: %v\n%s", err, out)
	}
	if _, err := cli(t, env, "sql", "top_errors", "--stuck", "1m"); err == nil || !strings.Contains(err.Error(), "takes no --stuck") {
		t.Fatalf("sql top_errors --stuck: %v", err)
	}
	if _, err := cli(t, env, "sql", "nope"); err == nil || !strings.Contains(err.Error(), `no query "nope"`) {
		t.Fatalf("sql nope: %v", err)
	}
	out, err = cli(t, env, "sql", "failed_chains", "--since", "6h", "--account", "acc")
	if err != nil || !strings.Contains(out, "recent") || !strings.Contains(out, "old") {
		t.Fatalf("sql failed_chains --since 6h --account acc: %v\n%s", err, out)
	}
	out, err = cli(t, env, "chains", "--since", "6h")
	lines := strings.Split(out, "\n")
	if err != nil || len(lines) < 4 || !strings.HasPrefix(lines[0], "CHAIN") || !strings.Contains(lines[1], "STEP") || !strings.HasPrefix(lines[2], "recent") ||
		!strings.Contains(lines[0], "PARTNER") || !strings.Contains(lines[2], "partner") {
		t.Fatalf("chains table without its header: %v\n%s", err, out)
	}
}

// `chains --partner` and `sql … --partner` keep to one partner's rows; each
// row names its partner.
func TestCommandsTakeThePartner(t *testing.T) {
	conn, db := testenv.ClickHouse(t)
	ctx := context.Background()
	if err := attemptlog.EnsureSchema(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	row := func(partner, chain string) attemptlog.Row {
		at := time.Now().Add(-10 * time.Minute)
		return attemptlog.Row{"ts": strconv.FormatInt(at.Unix(), 10), "ts_ms": "0", "event_id": chain, "row_id": partner + ":" + chain,
			"stream_id": "1-0", "account": "acc", "entity": "main", "key": chain, "chain_id": chain, "op": "upsert", "version": "1",
			"attempt": "1", "step": "dead", "http_status": "422", "latency_us": "10", "error": "422 at " + partner, "instance": "t", "partner": partner}
	}
	if err := attemptlog.Insert(ctx, conn, db, []attemptlog.Row{row("crm", "c-1"), row("erp", "e-1")}); err != nil {
		t.Fatal(err)
	}
	env := []string{"STREAMSYNC_CLICKHOUSE__ADDR=" + testenv.ClickHouseAddr(t), "STREAMSYNC_CLICKHOUSE__DATABASE=" + db}
	for _, args := range [][]string{{"chains"}, {"sql", "failed_chains"}, {"sql", "top_errors"}, {"sql", "failed_chains_per_account"}} {
		out, err := cli(t, env, args...)
		if err != nil || !strings.Contains(out, "crm") || !strings.Contains(out, "erp") {
			t.Fatalf("%v: both partners, each named: %v\n%s", args, err, out)
		}
		out, err = cli(t, env, append(args, "--partner", "erp")...)
		if err != nil || strings.Contains(out, "crm") || !strings.Contains(out, "erp") {
			t.Fatalf("%v --partner erp: only erp's: %v\n%s", args, err, out)
		}
	}
	if _, err := cli(t, env, "chains", "--partner", "Not A Name"); err == nil || !strings.Contains(err.Error(), "--partner") {
		t.Fatalf("chains --partner 'Not A Name': %v", err)
	}
	if _, err := cli(t, env, "sql", "archived_dead_letters", "--partner", "erp"); err == nil || !strings.Contains(err.Error(), "takes no --partner") {
		t.Fatalf("sql archived_dead_letters --partner: %v", err)
	}
}
