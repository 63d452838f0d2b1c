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
)

// `chains --id` shows the chain's family, whose each step is; `chains`
// says how many children each failure stranded.
func TestChainsFamilyCommand(t *testing.T) {
	conn, db := testenv.ClickHouse(t)
	ctx := context.Background()
	if err := attemptlog.EnsureSchema(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	row := func(chain, entity, key, step, errText string, ago time.Duration, parent ...string) attemptlog.Row {
		at := time.Now().Add(-ago)
		r := attemptlog.Row{"ts": strconv.FormatInt(at.Unix(), 10), "ts_ms": "0", "event_id": chain, "row_id": chain + ":" + step,
			"stream_id": "1-0", "account": "acc", "entity": entity, "key": key, "chain_id": chain, "op": "upsert", "version": "1",
			"attempt": "1", "step": step, "http_status": "0", "latency_us": "10", "error": errText, "instance": "t", "partner": "crm"}
		if len(parent) == 2 {
			r["parent_entity"], r["parent_key"] = parent[0], parent[1]
		}
		return r
	}
	rows := []attemptlog.Row{
		row("evt-p", "main", "m-1", "dead", "422 rejected", 10*time.Minute),
		row("evt-c", "sub", "s-1", "parked", "parent main/m-1 not at the partner yet", 11*time.Minute, "main", "m-1"),
		row("evt-c", "sub", "s-1", "dead", "parent main/m-1 was dead-lettered (event evt-p)", 9*time.Minute, "main", "m-1"),
	}
	if err := attemptlog.Insert(ctx, conn, db, rows); err != nil {
		t.Fatal(err)
	}
	env := []string{"STREAMSYNC_CLICKHOUSE__ADDR=" + testenv.ClickHouseAddr(t), "STREAMSYNC_CLICKHOUSE__DATABASE=" + db}
	out, err := cli(t, env, "chains", "--id", "evt-p")
	if err != nil || !strings.Contains(out, "child evt-c") || !strings.Contains(out, "child evt-c sub/s-1") || !strings.Contains(out, "parent evt-p main/m-1") {
		t.Fatalf("chains --id evt-p: %v\n%s", err, out)
	}
	out, err = cli(t, env, "chains", "--id", "evt-p", "--format", "json")
	var got struct {
		Families []attemptlog.Family `json:"families"`
	}
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || len(got.Families) != 1 || len(got.Families[0].Timeline) != 3 ||
		got.Families[0].Timeline[0].Role != "child" || got.Families[0].Timeline[1].Role != "parent" {
		t.Fatalf("chains --id evt-p --format json: %v\n%s", err, out)
	}
	out, err = cli(t, env, "chains", "--format", "json")
	var list struct {
		Chains []attemptlog.Chain `json:"chains"`
	}
	if err != nil || json.Unmarshal([]byte(out), &list) != nil {
		t.Fatalf("chains: %v\n%s", err, out)
	}
	for _, c := range list.Chains {
		if c.ChainID == "evt-p" && c.Stranded != 1 {
			t.Fatalf("evt-p stranded %d, want 1", c.Stranded)
		}
	}
	if out, err = cli(t, env, "chains"); err != nil || !strings.Contains(out, "STRANDED") {
		t.Fatalf("chains: no stranded column: %v\n%s", err, out)
	}
}

// `chains --id` of a chain the attempt log does not have fails (exit 2,
// the message on stderr), in either format; the family's header is a table
// of its own, its columns as wide as its own cells, not the timeline's.
func TestChainsFamilyNotFoundAndHeader(t *testing.T) {
	conn, db := testenv.ClickHouse(t)
	ctx := context.Background()
	if err := attemptlog.EnsureSchema(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	row := func(chain, entity, key, step, errText string, ago time.Duration, parent ...string) attemptlog.Row {
		r := attemptlog.Row{"ts": strconv.FormatInt(time.Now().Add(-ago).Unix(), 10), "ts_ms": "0", "event_id": chain, "row_id": chain + ":" + step,
			"stream_id": "1-0", "account": "acc", "entity": entity, "key": key, "chain_id": chain, "op": "upsert", "version": "1",
			"attempt": "1", "step": step, "http_status": "0", "latency_us": "10", "error": errText, "instance": "t", "partner": "crm"}
		if len(parent) == 2 {
			r["parent_entity"], r["parent_key"] = parent[0], parent[1]
		}
		return r
	}
	if err := attemptlog.Insert(ctx, conn, db, []attemptlog.Row{
		row("evt-p", "main", "m-1", "retry_scheduled", "503", 10*time.Minute),
		row("evt-c", "sub", "s-1", "parked", "parent main/m-1 not at the partner yet", 12*time.Minute, "main", "m-1"),
	}); err != nil {
		t.Fatal(err)
	}
	env := []string{"STREAMSYNC_CLICKHOUSE__ADDR=" + testenv.ClickHouseAddr(t), "STREAMSYNC_CLICKHOUSE__DATABASE=" + db}
	for _, args := range [][]string{{"chains", "--id", "nonexistent"}, {"chains", "--id", "nonexistent", "--format", "json"}} {
		out, err := cli(t, env, args...)
		if err == nil || !strings.Contains(err.Error(), "no chain nonexistent") || out != "" {
			t.Fatalf("%v: err %v, stdout %q; want an error naming the chain and nothing on stdout", args, err, out)
		}
	}
	out, err := cli(t, env, "chains", "--id", "evt-p")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out, "\n")
	// The first column is as wide as "  child evt-c" and the padding, not
	// as "  2006-01-02 15:04:05.000".
	if len(lines) < 3 || strings.Index(lines[0], "partner crm") != len("  child evt-c")+2 || !strings.HasPrefix(lines[1], "  child evt-c") {
		t.Fatalf("header not at its own widths:\n%s", out)
	}
	if strings.Index(lines[0], "main/m-1") != strings.Index(lines[1], "sub/s-1") || !strings.Contains(lines[0], "stranded 1") {
		t.Fatalf("the child's record not under the parent's, or no stranded count:\n%s", out)
	}
}
