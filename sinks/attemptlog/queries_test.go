package attemptlog

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/streamsync/streamsync/deadarchive"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/sql"
)

// seed writes a small history: chains that were delivered after retries,
// rejected, invalid, dead for want of their parent, stuck, and waiting.
func seed(t *testing.T) (driver.Conn, string) {
	t.Helper()
	conn, db := testenv.ClickHouse(t)
	ctx := context.Background()
	if err := EnsureSchema(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	n := 0
	row := func(chain, account, entity, key, step string, attempt, status, latency int, errText string, ago time.Duration, parent ...string) Row {
		n++
		at := now.Add(-ago)
		r := Row{"ts": strconv.FormatInt(at.Unix(), 10), "ts_ms": strconv.Itoa(at.Nanosecond() / 1e6), "event_id": chain,
			"row_id": fmt.Sprintf("s%d:%s:%d", n, step, attempt), "stream_id": fmt.Sprintf("%d-0", n), "account": account, "entity": entity, "key": key,
			"chain_id": chain, "op": "upsert", "version": "1", "attempt": strconv.Itoa(attempt), "step": step,
			"http_status": strconv.Itoa(status), "latency_us": strconv.Itoa(latency), "error": errText, "instance": "i1"}
		if len(parent) == 2 {
			r["parent_entity"], r["parent_key"] = parent[0], parent[1]
		}
		return r
	}
	const e503 = "503 Service Unavailable: unavailable"
	g := row("G", "acc3", "main", "g", "delivered", 1, 200, 1000, "", 30*time.Second)
	rows := []Row{
		row("A", "acc1", "main", "a", "retry_scheduled", 1, 503, 1500, e503, 20*time.Minute),
		row("A", "acc1", "main", "a", "retry_scheduled", 2, 503, 1500, e503, 19*time.Minute),
		row("A", "acc1", "main", "a", "delivered", 3, 200, 2000, "", 18*time.Minute),
		row("B", "acc1", "main", "b", "dead", 1, 422, 900, "422 Unprocessable Entity: rejected", 17*time.Minute),
		row("C", "acc2", "", "", "invalid", 0, 0, 0, "op: bad", 16*time.Minute),
		row("P", "acc2", "main", "m1", "dead", 1, 422, 800, "422 Unprocessable Entity: rejected", 15*time.Minute),
		row("D", "acc2", "sub", "d", "parked", 0, 0, 0, "parent main/m1 not at the partner yet", 16*time.Minute, "main", "m1"),
		row("D", "acc2", "sub", "d", "released", 0, 0, 0, "", 15*time.Minute, "main", "m1"),
		row("D", "acc2", "sub", "d", "dead", 0, 0, 0, "parent main/m1 was dead-lettered (event P)", 14*time.Minute, "main", "m1"),
		row("E", "acc3", "main", "e", "retry_scheduled", 1, 503, 700, e503, 10*time.Minute),
		row("F", "acc3", "sub", "f", "parked", 0, 0, 0, "parent main/x not at the partner yet", time.Minute, "main", "x"),
		g, g, // the same row twice: an export retried after a crash
	}
	if err := Insert(ctx, conn, db, rows); err != nil {
		t.Fatal(err)
	}
	seedArchive(t, conn, db, now)
	return conn, db
}

// seedArchive archives three old dead letters: two 10 minutes ago (one of
// them twice, as after a crash between the archive and the trim) and one
// 3 hours ago.
func seedArchive(t *testing.T, conn driver.Conn, db string, now time.Time) {
	t.Helper()
	letter := func(id string, dead, archived time.Duration) deadarchive.Letter {
		return deadarchive.Letter{Stream: "streamsync:dead", StreamID: fmt.Sprintf("%d-0", now.Add(-dead).UnixMilli()),
			DeadAt: now.Add(-dead).UTC(), EventID: id, Account: "acc1", Entity: "main", Key: "k-" + id, Reason: "rejected",
			Error: "422 Unprocessable Entity: " + id, Attempts: 1, ArchivedAt: now.Add(-archived).UTC(), Instance: "i1",
			Names:  []string{"id", "account", "entity", "key", "op", "version", "data", "dead_reason"},
			Values: []string{id, "acc1", "main", "k-" + id, "upsert", "1", `{"n":"` + id + `"}`, "rejected"}}
	}
	store := deadarchive.NewClickHouseStore(conn, db)
	const day = 24 * time.Hour
	for _, batch := range [][]deadarchive.Letter{
		{letter("O1", 40*day, 10*time.Minute), letter("O2", 60*day, 10*time.Minute), letter("O3", 61*day, 3*time.Hour)},
		{letter("O1", 40*day, 10*time.Minute)},
	} {
		if err := store.Archive(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
}

// query runs a query through RunQuery with since bound to an hour ago, as
// `streamsync sql NAME --since 1h` does, and renders each value with fmt.
func query(t *testing.T, conn driver.Conn, db, name string) [][]string {
	t.Helper()
	return queryWith(t, conn, db, name, map[string]any{"since": time.Now().Add(-time.Hour).UTC()})
}

func queryWith(t *testing.T, conn driver.Conn, db, name string, values map[string]any) [][]string {
	t.Helper()
	ans, err := RunQuery(context.Background(), conn, db, name, values)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return render(ans.Rows)
}

func render(rows [][]any) [][]string {
	var out [][]string
	for _, r := range rows {
		line := make([]string, len(r))
		for i, v := range r {
			line[i] = fmt.Sprint(v)
		}
		out = append(out, line)
	}
	return out
}

func TestEveryQueryFileIsTested(t *testing.T) {
	tested := map[string]bool{"failed_chains": true, "failed_chains_per_account": true, "retry_distribution": true,
		"latency_per_minute": true, "top_errors": true, "dead_children": true, "archived_dead_letters": true}
	for _, n := range sql.Names() {
		if !tested[n] {
			t.Errorf("sql/%s.sql has no test", n)
		}
		if !strings.HasSuffix(sql.Question(n), "?") && !strings.Contains(sql.Question(n), "?") {
			t.Errorf("sql/%s.sql does not open with the question it answers", n)
		}
	}
}

func TestFailedChains(t *testing.T) {
	conn, db := seed(t)
	ctx := context.Background()
	chains, truncated, err := Chains(ctx, conn, db, ChainFilter{Since: time.Now().Add(-time.Hour), Stuck: 5 * time.Minute})
	if err != nil || truncated {
		t.Fatalf("truncated %v, %v", truncated, err)
	}
	got := map[string]Chain{}
	for _, c := range chains {
		got[c.ChainID] = c
	}
	for _, want := range []string{"B", "C", "D", "P", "E"} {
		if _, ok := got[want]; !ok {
			t.Errorf("chain %s missing", want)
		}
	}
	for _, not := range []string{"A", "F", "G"} {
		if _, ok := got[not]; ok {
			t.Errorf("chain %s is not failed or stuck", not)
		}
	}
	var steps []string
	for _, s := range got["D"].Steps {
		steps = append(steps, s.Step)
	}
	if strings.Join(steps, ",") != "parked,released,dead" || got["D"].LastStep != "dead" || got["E"].LastStep != "retry_scheduled" {
		t.Fatalf("chain D steps %v, E %+v", steps, got["E"])
	}
	only, _, err := Chains(ctx, conn, db, ChainFilter{Account: "acc1", Since: time.Now().Add(-time.Hour), Stuck: 5 * time.Minute})
	if err != nil || len(only) != 1 || only[0].ChainID != "B" {
		t.Fatalf("account acc1: %+v %v", only, err)
	}
}

func TestAnalystQueries(t *testing.T) {
	conn, db := seed(t)
	tests := []struct {
		name string
		want []string // rows, fields joined by |
	}{
		{"failed_chains_per_account", []string{"partner|acc2|3|1|1|1|0", "partner|acc1|1|0|0|1|0"}},
		{"retry_distribution", []string{"partner|0|0|1|0", "partner|1|1|2|0", "partner|3|1|0|0"}},
		{"top_errors", []string{"partner|503 Service Unavailable: unavailable|retry_scheduled|3|2|2"}},
		{"dead_children", []string{"partner|D|acc2|sub|d|main|m1|P|422 Unprocessable Entity: rejected"}},
		// O1 archived twice shows once; O3, archived 3 hours ago, not at all
		{"archived_dead_letters", []string{"O1|acc1|main|k-O1|rejected|422 Unprocessable Entity: O1|1", "O2|acc1|main|k-O2|rejected|422 Unprocessable Entity: O2|1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := query(t, conn, db, tt.name)
			var got []string
			for _, r := range rows {
				n := len(tt.want[0]) - len(strings.ReplaceAll(tt.want[0], "|", "")) + 1
				got = append(got, strings.Join(r[:n], "|"))
			}
			if len(got) < len(tt.want) {
				t.Fatalf("rows %v, want %v", got, tt.want)
			}
			for i, w := range tt.want {
				if got[i] != w {
					t.Fatalf("row %d: %s, want %s (all: %v)", i, got[i], w, got)
				}
			}
		})
	}
	t.Run("latency_per_minute", func(t *testing.T) {
		rows := query(t, conn, db, "latency_per_minute")
		calls, maxUS := 0, 0
		for _, r := range rows {
			c, _ := strconv.Atoi(r[2])
			m, _ := strconv.Atoi(r[4])
			calls += c
			maxUS = max(maxUS, m)
		}
		if calls != 7 || maxUS != 2000 {
			t.Fatalf("calls %d max %dµs over %v; want 7 calls (the doubled row once), max 2000", calls, maxUS, rows)
		}
	})
}
