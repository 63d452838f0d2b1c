package attemptlog

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/streamsync/streamsync/internal/streams"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/sql"
)

// partnerRow is one step of a chain at a partner, ago before now.
func partnerRow(partner, chain, entity, key, step string, attempt, status int, errText string, ago time.Duration, parent ...string) Row {
	at := time.Now().Add(-ago)
	r := Row{"ts": strconv.FormatInt(at.Unix(), 10), "ts_ms": "7", "event_id": chain, "row_id": partner + ":" + chain + ":" + step,
		"stream_id": "1-0", "account": "acc", "entity": entity, "key": key, "chain_id": chain, "op": "upsert", "version": "1",
		"attempt": strconv.Itoa(attempt), "step": step, "http_status": strconv.Itoa(status), "latency_us": "900", "error": errText,
		"instance": "i1", PartnerColumn: partner}
	if len(parent) == 2 {
		r["parent_entity"], r["parent_key"] = parent[0], parent[1]
	}
	return r
}

// seedPartners writes the steps of two partners: event X dead at crm and
// delivered at erp (two chains with one chain_id), Y dead at erp, and a
// child of each dead parent dead with it; X's dead row twice.
func seedPartners(t *testing.T) (driver.Conn, string) {
	t.Helper()
	conn, db := testenv.ClickHouse(t)
	if err := EnsureSchema(context.Background(), conn, db); err != nil {
		t.Fatal(err)
	}
	const rejected = "422 Unprocessable Entity: rejected"
	xDead := partnerRow("crm", "X", "main", "x", "dead", 1, 422, rejected, 10*time.Minute)
	rows := []Row{
		xDead, xDead,
		partnerRow("crm", "W", "sub", "w", "dead", 0, 0, "parent main/x was dead-lettered (event X)", 9*time.Minute, "main", "x"),
		partnerRow("erp", "X", "main", "x", "delivered", 1, 200, "", 10*time.Minute),
		partnerRow("erp", "Y", "main", "y", "dead", 1, 422, rejected, 8*time.Minute),
		partnerRow("erp", "Z", "sub", "z", "dead", 0, 0, "parent main/y was dead-lettered (event Y)", 7*time.Minute, "main", "y"),
	}
	if err := Insert(context.Background(), conn, db, rows); err != nil {
		t.Fatal(err)
	}
	return conn, db
}

func chainKeys(chains []Chain) []string {
	var out []string
	for _, c := range chains {
		out = append(out, c.Partner+"/"+c.ChainID+"/"+c.LastStep)
	}
	slices.Sort(out)
	return out
}

// Failed chains and timelines name their partner, and a partner filter
// keeps to that partner's: X dead at crm is not X delivered at erp.
func TestChainsPerPartner(t *testing.T) {
	conn, db := seedPartners(t)
	ctx := context.Background()
	since := time.Now().Add(-time.Hour)
	for _, tt := range []struct{ partner, want string }{
		{"", "crm/W/dead crm/X/dead erp/Y/dead erp/Z/dead"},
		{"crm", "crm/W/dead crm/X/dead"},
		{"erp", "erp/Y/dead erp/Z/dead"},
		{"nobody", ""},
	} {
		chains, _, err := Chains(ctx, conn, db, ChainFilter{Partner: tt.partner, Since: since, Stuck: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(chainKeys(chains), " "); got != tt.want {
			t.Errorf("partner %q: chains %s, want %s", tt.partner, got, tt.want)
		}
		for _, c := range chains {
			if c.ChainID == "X" && len(c.Steps) != 1 {
				t.Errorf("chain X at crm has %d steps, want its dead row once", len(c.Steps))
			}
		}
	}
	for _, tt := range []struct{ partner, want string }{
		{"", "crm/X/dead erp/X/delivered"},
		{"erp", "erp/X/delivered"},
	} {
		chains, _, err := Timeline(ctx, conn, db, TimelineQuery{EventID: "X", Partner: tt.partner, Since: since})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(chainKeys(chains), " "); got != tt.want {
			t.Errorf("timeline of X at %q: %s, want %s", tt.partner, got, tt.want)
		}
	}
	if _, _, err := Chains(ctx, conn, db, ChainFilter{Partner: "x' OR 1=1", Since: since}); err == nil {
		t.Error("a partner that is no partner name: no error")
	}
}

// Every analyst question that reads the attempt log shows the partner and
// takes one; the dead children join their parent at the same partner.
func TestAnalystQueriesPerPartner(t *testing.T) {
	conn, db := seedPartners(t)
	since := time.Now().Add(-time.Hour).UTC()
	for _, name := range sql.Names() {
		params, err := sql.Params(name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(params, func(p sql.Param) bool { return p.Name == "partner" }) {
			if name != "archived_dead_letters" { // the dead-letter archive, not the attempt log
				t.Errorf("sql/%s.sql takes no partner", name)
			}
			continue
		}
		t.Run(name, func(t *testing.T) {
			for _, partner := range []string{"", "crm", "erp"} {
				ans, err := RunQuery(context.Background(), conn, db, name, map[string]any{"since": since, "partner": partner})
				if err != nil {
					t.Fatal(err)
				}
				if ans.Columns[0] != "partner" {
					t.Fatalf("first column %s, want partner", ans.Columns[0])
				}
				seen := map[string]bool{}
				for _, r := range render(ans.Rows) {
					seen[r[0]] = true
				}
				want := map[string]bool{"crm": partner != "erp", "erp": partner != "crm"}
				for p, w := range want {
					if seen[p] != w {
						t.Errorf("--partner %q: rows of %s: %v, want %v (rows %v)", partner, p, seen[p], w, render(ans.Rows))
					}
				}
			}
		})
	}
	rows := queryWith(t, conn, db, "dead_children", map[string]any{"since": since})
	var got []string
	for _, r := range rows {
		got = append(got, r[0]+"|"+r[1]+"|"+r[7])
	}
	if strings.Join(got, " ") != "crm|W|X erp|Z|Y" {
		t.Fatalf("dead children with their parent chains: %v", got)
	}
	if _, err := RunQuery(context.Background(), conn, db, "top_errors", map[string]any{"partner": "Bad Name"}); err == nil {
		t.Fatal("a partner that is no partner name: no error")
	}
}

// oldColumns are the attempt log's columns before partner.
func oldColumns() []Column { return Columns[:len(streams.RowColumns)] } // before partner and direction

// A table made by the old DDL, holding rows, gets the partner column: no
// row is lost, the old rows read as the partner of the single-partner
// settings, new rows carry their own, and a second run changes nothing.
func TestSchemaAddsPartnerKeepingRows(t *testing.T) {
	conn, db := testenv.ClickHouse(t)
	ctx := context.Background()
	if err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	var cols, names []string
	for _, c := range oldColumns() {
		cols = append(cols, "`"+c.Name+"` "+c.Type)
		names = append(names, "`"+c.Name+"`")
	}
	old := fmt.Sprintf("CREATE TABLE %s.attempts (%s) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY (account, chain_id, row_id)",
		db, strings.Join(cols, ", "))
	if err := conn.Exec(ctx, old); err != nil {
		t.Fatal(err)
	}
	batch, err := conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.attempts (%s)", db, strings.Join(names, ", ")))
	if err != nil {
		t.Fatal(err)
	}
	for _, chain := range []string{"O1", "O2", "O3"} {
		v, err := partnerRow("", chain, "main", strings.ToLower(chain), "dead", 1, 422, "422 Unprocessable Entity: old", 5*time.Minute).values()
		if err != nil {
			t.Fatal(err)
		}
		if err := batch.Append(v[:len(oldColumns())]...); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := EnsureSchemaWith(ctx, conn, db, SchemaOptions{OldRowsPartner: "crm"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := columnsOf(t, db)[PartnerColumn]; got != "String" {
		t.Fatalf("partner column %q", got)
	}
	if got := columnsOf(t, db)[DirectionColumn]; got != "String" {
		t.Fatalf("direction column %q", got)
	}
	if err := Insert(ctx, conn, db, []Row{partnerRow("erp", "N1", "main", "n1", "dead", 1, 422, "422 Unprocessable Entity: new", time.Minute)}); err != nil {
		t.Fatal(err)
	}
	count := map[string]uint64{}
	rows, err := conn.Query(ctx, "SELECT partner, count() FROM "+db+".attempts GROUP BY partner")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p string
		var n uint64
		if err := rows.Scan(&p, &n); err != nil {
			t.Fatal(err)
		}
		count[p] = n
	}
	rows.Close()
	if len(count) != 2 || count["crm"] != 3 || count["erp"] != 1 {
		t.Fatalf("rows per partner after the upgrade: %v; want the 3 old ones as crm, the new one as erp", count)
	}
	chains, _, err := Chains(ctx, conn, db, ChainFilter{Partner: "crm", Since: time.Now().Add(-time.Hour)})
	if err != nil || len(chains) != 3 {
		t.Fatalf("crm's failed chains after the upgrade: %v %v", chainKeys(chains), err)
	}
	if err := EnsureSchemaWith(ctx, conn, db, SchemaOptions{OldRowsPartner: "x'y"}); err == nil {
		t.Fatal("an old-rows partner that is no partner name: no error")
	}
}

// runExporters runs NewExporters(cfg) until the test ends.
func runExporters(t *testing.T, cfg ExportersConfig, rdb *redis.Client, conn driver.Conn) {
	t.Helper()
	xs, err := NewExporters(cfg, rdb, conn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { xs.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// Two partners' attempts streams in one shard, with the same entry and row
// ids: each row lands with its stream's partner, the default partner's
// row_ids as they were, the other's prefixed, and a row appended twice
// counts once.
func TestExportersNameThePartner(t *testing.T) {
	rdb := testenv.Redis(t)
	conn, db := testenv.ClickHouse(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	crm, erp := prefix+"crm:attempts", prefix+"erp:attempts"
	addRows(t, rdb, crm, 0, 10)
	addRows(t, rdb, crm, 3, 1) // r3 again: an export retried after a crash
	addRows(t, rdb, erp, 0, 10)
	runExporters(t, ExportersConfig{DefaultPartner: "crm", Streams: []Stream{{Name: crm, Partner: "crm"}, {Name: erp, Partner: "erp"}},
		Exporter: ExporterConfig{Consumer: "c", Database: db, SpoolDir: t.TempDir(), FlushInterval: 10 * time.Millisecond}}, rdb, conn)
	testenv.WaitFor(t, 30*time.Second, "20 distinct rows", func() bool { return distinctRows(conn, db) == 20 })
	testenv.WaitFor(t, 10*time.Second, "both streams emptied", func() bool {
		a, _ := rdb.XLen(context.Background(), crm).Result()
		b, _ := rdb.XLen(context.Background(), erp).Result()
		return a+b == 0
	})
	var got []string
	rows, err := conn.Query(context.Background(), "SELECT partner, row_id FROM "+db+".attempts FINAL WHERE row_id LIKE '%r3' ORDER BY partner")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p, id string
		_ = rows.Scan(&p, &id)
		got = append(got, p+" "+id)
	}
	rows.Close()
	if strings.Join(got, ", ") != "crm r3, erp erp:r3" {
		t.Fatalf("row r3 of both streams: %v; want crm's once and unprefixed, erp's prefixed", got)
	}
	var crmRows uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+db+".attempts FINAL WHERE partner = 'crm'").Scan(&crmRows); err != nil || crmRows != 10 {
		t.Fatalf("crm rows %d (%v), want 10: the doubled row once", crmRows, err)
	}
}

// Rows spilled to the spool while ClickHouse is away keep their partner,
// and a segment spooled before there were partners is the spool's
// partner's when it is replayed.
func TestSpoolKeepsThePartner(t *testing.T) {
	rdb := testenv.Redis(t)
	conn, db := testenv.ClickHouse(t)
	stream := testenv.Prefix(t) + "erp:attempts"
	t.Cleanup(func() { rdb.Del(context.Background(), stream) })
	spoolDir := t.TempDir()
	old := Row{"ts": strconv.FormatInt(time.Now().Unix(), 10), "ts_ms": "1", "event_id": "old", "row_id": "old-1", "chain_id": "old",
		"account": "a", "step": "delivered", "attempt": "1", "http_status": "200"}
	line, _ := json.Marshal(old)
	if err := os.WriteFile(filepath.Join(spoolDir, "attempts-1.jsonl"), append(line, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	away, err := Open(Options{Addr: "127.0.0.1:1", Database: "default"}) // refused at once
	if err != nil {
		t.Fatal(err)
	}
	cfg := ExporterConfig{Stream: stream, Partner: "erp", Consumer: "c", Database: db, BatchSize: 50, FlushInterval: 10 * time.Millisecond,
		BacklogMax: 10, SpoolDir: spoolDir, RetryEvery: 50 * time.Millisecond}
	r := runExporter(t, cfg, rdb, away)
	addRows(t, rdb, stream, 0, 100)
	testenv.WaitFor(t, 20*time.Second, "Redis back under the backlog", func() bool {
		n, _ := rdb.XLen(context.Background(), stream).Result()
		return n <= 10
	})
	r.stop()
	segs, _ := filepath.Glob(filepath.Join(spoolDir, "attempts-*.jsonl"))
	slices.Sort(segs)
	if len(segs) < 2 {
		t.Fatalf("segments %v", segs)
	}
	b, err := os.ReadFile(segs[1])
	if err != nil || !strings.Contains(string(b), `"partner":"erp"`) {
		t.Fatalf("a spilled segment without the partner: %.300s (%v)", b, err)
	}

	runExporter(t, cfg, rdb, conn)
	testenv.WaitFor(t, 30*time.Second, "101 rows in ClickHouse", func() bool { return distinctRows(conn, db) == 101 })
	var others uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+db+".attempts WHERE partner != 'erp'").Scan(&others); err != nil || others != 0 {
		t.Fatalf("%d rows not erp's (%v)", others, err)
	}
}

// Several exporters (one per partner and shard) upgrade the same old
// table at once: each sees the columns missing, and none fails because
// another added one first.
func TestSchemaUpgradedByManyAtOnce(t *testing.T) {
	conn, db := testenv.ClickHouse(t)
	ctx := context.Background()
	if err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, c := range oldColumns() {
		cols = append(cols, "`"+c.Name+"` "+c.Type)
	}
	if err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s.attempts (%s) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY (account, chain_id, row_id)",
		db, strings.Join(cols, ", "))); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 6)
	for range cap(errs) {
		go func() { errs <- EnsureSchema(ctx, conn, db) }()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Errorf("an upgrade beside others failed: %v", err)
		}
	}
	if got := columnsOf(t, db)[DirectionColumn]; got != "String" {
		t.Fatalf("direction column %q", got)
	}
}
