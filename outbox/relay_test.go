package outbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
)

type fixture struct {
	pool  *pgxpool.Pool
	rdb   *redis.Client
	keys  layout.Keys
	table string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pc.MaxConns = 24 // producers that hold several transactions open at once
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	f := &fixture{pool: pool, rdb: testenv.Redis(t), table: "test_outbox_" + hex.EncodeToString(b)}
	p := testenv.Prefix(t)
	f.keys = layout.NewKeys(p+"events", "g", p+"dead", p+"delayed", p+"retry")
	if err := EnsureTable(ctx, pool, f.table); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE `+f.table+`_business (id BIGSERIAL PRIMARY KEY, name TEXT)`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), `DROP TABLE IF EXISTS `+f.table+`, `+f.table+`_business`)
		f.rdb.Del(context.Background(), f.keys.Events, f.keys.Dead, f.keys.Attempts, f.keys.Steps)
	})
	return f
}

func (f *fixture) relay(t *testing.T, batch int, reg prometheus.Registerer) *Relay {
	t.Helper()
	r, err := NewRelay(Config{Table: f.table, Batch: batch, Poll: 5 * time.Millisecond, Keys: f.keys,
		Limits: event.Limits{MaxBytes: 4096}, Instance: "test", AttemptLog: true, Registerer: reg,
		Now: func() time.Time { return time.UnixMilli(1700000000000) }}, f.pool, f.rdb)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func evt(id string, version int) string {
	return fmt.Sprintf(`{"id":%q,"account":"acc-%d","entity":"main_registration","key":"r-%s","op":"upsert","version":%d,"data":{"n":%d}}`,
		id, version%7, id, version, version)
}

// insert writes a business row and an outbox row in one transaction, and
// commits it or rolls it back. It returns the outbox row's id.
func (f *fixture) insert(t testing.TB, ev string, commit bool) int64 {
	ctx := context.Background()
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `INSERT INTO `+f.table+`_business (name) VALUES ($1)`, ev); err != nil {
		t.Error(err)
		return 0
	}
	var id int64
	if err := tx.QueryRow(ctx, `INSERT INTO `+f.table+` (event) VALUES ($1) RETURNING id`, ev).Scan(&id); err != nil {
		t.Error(err)
		return 0
	}
	if commit {
		if err := tx.Commit(ctx); err != nil {
			t.Error(err)
		}
	}
	return id
}

func (f *fixture) rows(t *testing.T) int {
	t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+f.table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) stream(t *testing.T, key string) []redis.XMessage {
	t.Helper()
	xs, err := f.rdb.XRange(context.Background(), key, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	return xs
}

// Concurrent producers, a fifth of their transactions rolled back: every
// committed row reaches the stream once, each producer's rows in the order
// it committed them, no rolled-back one does, and the table ends empty.
func TestRelayCommittedRowsInIDOrder(t *testing.T) {
	f := setup(t)
	reg := prometheus.NewRegistry()
	r := f.relay(t, 50, reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	var mu sync.Mutex
	committed := map[string]int64{}
	rolledBack := map[string]bool{}
	var wg sync.WaitGroup
	for p := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				id := fmt.Sprintf("p%d-%d", p, i)
				commit := i%5 != 0
				oid := f.insert(t, evt(id, i+1), commit)
				mu.Lock()
				if commit {
					committed[id] = oid
				} else {
					rolledBack[id] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	testenv.WaitFor(t, 20*time.Second, "every committed row relayed", func() bool {
		n, _ := f.rdb.XLen(context.Background(), f.keys.Events).Result()
		return int(n) >= len(committed) && f.rows(t) == 0
	})
	xs := f.stream(t, f.keys.Events)
	if len(xs) != len(committed) {
		t.Fatalf("%d entries for %d committed rows", len(xs), len(committed))
	}
	// A row's id is taken at INSERT, its visibility comes at COMMIT, so
	// rows of concurrent transactions may commit out of id order; what
	// holds is that rows one producer commits one after another reach the
	// stream in that order.
	last := map[string]int64{}
	for _, x := range xs {
		id := x.Values["id"].(string)
		oid, ok := committed[id]
		if !ok {
			t.Fatalf("event %s relayed: rolled back=%v", id, rolledBack[id])
		}
		producer := id[:strings.Index(id, "-")]
		if oid <= last[producer] {
			t.Fatalf("event %s (row %d) after row %d of the same producer: out of order", id, oid, last[producer])
		}
		last[producer] = oid
		if x.Values["ts"] != "1700000000000" || x.Values["data"] == "" {
			t.Fatalf("entry %v: want the ingest's fields, ts stamped", x.Values)
		}
	}
	if got := testutil.ToFloat64(r.metrics.relayed.WithLabelValues("appended")); int(got) != len(committed) {
		t.Fatalf("relayed metric %v, want %d", got, len(committed))
	}
	testenv.WaitFor(t, 5*time.Second, "lag back to 0", func() bool { return testutil.ToFloat64(r.metrics.lag) == 0 })
}

// A crash after the XADD and before the DELETE relays the batch again; the
// duplicates carry the same id and version, so the ledger skips them as
// stale.
func TestRelayCrashBetweenAppendAndDelete(t *testing.T) {
	f := setup(t)
	r := f.relay(t, 100, nil)
	for i := range 10 {
		f.insert(t, evt(fmt.Sprintf("c%d", i), i+1), true)
	}
	crashed := false
	r.afterAppend = func() error {
		if !crashed {
			crashed = true
			return errors.New("killed")
		}
		return nil
	}
	ctx := context.Background()
	if _, err := r.RelayOnce(ctx); err == nil {
		t.Fatal("want the crash's error")
	}
	if n := f.rows(t); n != 10 {
		t.Fatalf("%d rows left after the crash, want all 10", n)
	}
	if n, err := r.RelayOnce(ctx); err != nil || n != 10 {
		t.Fatalf("second pass: %d %v", n, err)
	}
	if n := f.rows(t); n != 0 {
		t.Fatalf("%d rows left", n)
	}
	xs := f.stream(t, f.keys.Events)
	if len(xs) != 20 {
		t.Fatalf("%d entries, want each of 10 twice", len(xs))
	}
	for i := range 10 {
		first, err := event.FromStream(xs[i].Values, event.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		dup, err := event.FromStream(xs[10+i].Values, event.Limits{})
		if err != nil || dup.ID != first.ID {
			t.Fatalf("duplicate %d: %v %v", i, dup.ID, err)
		}
		// The ledger after the first copy's delivery skips the second.
		w := &handlers.Work{Event: dup, Record: handlers.LedgerOf(first)}
		o, err := handlers.LedgerGuard()(ctx, w)
		if err != nil || o == nil || o.Step != handlers.StepSkippedStale {
			t.Fatalf("duplicate of %s: %+v %v, want skipped_stale", dup.ID, o, err)
		}
	}
}

// Invalid rows are dead-lettered `invalid` with the row's JSON in raw, get
// an `invalid` row in the attempt log, and are deleted; the valid ones of
// the same batch are relayed. A row larger than an event may be in JSON
// (event.Limits.MaxJSONBytes) — here one whose extra fields make it so — is
// never read whole: its dead letter keeps its first rawClip characters and
// names its size.
func TestRelayInvalidRows(t *testing.T) {
	f := setup(t)
	r := f.relay(t, 100, nil)
	var wide strings.Builder
	wide.WriteString(`{"id":"wide","account":"a","entity":"x","key":"k","op":"upsert","version":1,"data":{}`)
	for i := 0; wide.Len() < 3*rawClip; i++ {
		fmt.Fprintf(&wide, `,"f%d":0`, i)
	}
	wide.WriteString("}")
	bad := []string{
		`{"id":"bad-op","account":"a","entity":"x","key":"k","op":"merge","version":1}`,
		`[1, 2]`,
		`"a string"`,
		`{"id":"too-big","account":"a","entity":"x","key":"k","op":"upsert","version":1,"data":{"s":"` + strings.Repeat("x", 5000) + `"}}`,
		wide.String(),
	}
	f.insert(t, evt("ok-1", 1), true)
	for _, b := range bad {
		f.insert(t, b, true)
	}
	f.insert(t, evt("ok-2", 2), true)
	if n, err := r.RelayOnce(context.Background()); err != nil || n != 7 {
		t.Fatalf("pass: %d %v", n, err)
	}
	if n := f.rows(t); n != 0 {
		t.Fatalf("%d rows left: invalid rows must not stay", n)
	}
	if xs := f.stream(t, f.keys.Events); len(xs) != 2 || xs[0].Values["id"] != "ok-1" || xs[1].Values["id"] != "ok-2" {
		t.Fatalf("events %v", xs)
	}
	dead := f.stream(t, f.keys.Dead)
	if len(dead) != len(bad) {
		t.Fatalf("%d dead letters, want %d", len(dead), len(bad))
	}
	for i, d := range dead {
		v := d.Values
		if v["dead_reason"] != "invalid" || v["dead_error"] == "" || v["dead_at"] != "1700000000000" || v["outbox_id"] == "" {
			t.Fatalf("dead letter %d: %v", i, v)
		}
		var want any
		_ = f.pool.QueryRow(context.Background(), `SELECT left($1::jsonb::text, $2)`, bad[i], rawClip).Scan(&want)
		if v["raw"] != want {
			t.Fatalf("dead letter %d raw %.300q, want the row's JSON %.300q", i, v["raw"], want)
		}
	}
	if w := dead[4].Values; w["id"] != "wide" || len(w["raw"].(string)) != rawClip ||
		!strings.Contains(w["dead_error"].(string), "bytes of JSON, more than an entry of event.max_bytes (4096) may take with JSON's syntax (20480); raw holds its first 16384 characters") {
		t.Fatalf("the wide row's dead letter: id %v, %d bytes of raw, dead_error %q", w["id"], len(w["raw"].(string)), w["dead_error"])
	}
	if dead[0].Values["id"] != "bad-op" || dead[0].Values["account"] != "a" {
		t.Fatalf("dead letter keeps what it could read: %v", dead[0].Values)
	}
	rows := f.stream(t, f.keys.Attempts)
	if len(rows) != len(bad) || rows[0].Values["step"] != "invalid" || rows[0].Values["event_id"] != "bad-op" {
		t.Fatalf("attempt rows %v", rows)
	}
	if n, _ := f.rdb.HGet(context.Background(), f.keys.Steps, "invalid").Int(); n != len(bad) {
		t.Fatalf("invalid step count %d", n)
	}
}

// Two relays on one table: every row reaches the stream exactly once, in id
// order.
func TestTwoRelaysNeverRelayARowTwice(t *testing.T) {
	f := setup(t)
	const total = 3000
	ctx := context.Background()
	if _, err := f.pool.Exec(ctx, `INSERT INTO `+f.table+` (event)
		SELECT jsonb_build_object('id', 'r' || g, 'account', 'a' || (g % 13), 'entity', 'x', 'key', 'k' || g,
		                          'op', 'upsert', 'version', g, 'data', jsonb_build_object('g', g))
		FROM generate_series(1, $1) AS g`, total); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 2 {
		r := f.relay(t, 100, nil)
		wg.Add(1)
		go func() { defer wg.Done(); _ = r.Run(runCtx) }()
	}
	testenv.WaitFor(t, 30*time.Second, "the table drained", func() bool { return f.rows(t) == 0 })
	cancel()
	wg.Wait()
	xs := f.stream(t, f.keys.Events)
	if len(xs) != total {
		t.Fatalf("%d entries for %d rows", len(xs), total)
	}
	for i, x := range xs {
		if want := fmt.Sprintf("r%d", i+1); x.Values["id"] != want {
			t.Fatalf("entry %d is %v, want %s: a row relayed twice or out of order", i, x.Values["id"], want)
		}
	}
}

// A relay whose database user may not create tables runs on a table that
// exists.
func TestRelayWithoutCreateRight(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	role := f.table + "_relay"
	for _, q := range []string{
		`CREATE ROLE ` + role + ` LOGIN`,
		`GRANT SELECT, UPDATE, DELETE ON ` + f.table + ` TO ` + role, // UPDATE: FOR UPDATE locks rows
		`REVOKE CREATE ON SCHEMA public FROM PUBLIC`,
	} {
		if _, err := f.pool.Exec(ctx, q); err != nil {
			t.Fatal(q, err)
		}
	}
	t.Cleanup(func() {
		_, _ = f.pool.Exec(context.Background(), `DROP OWNED BY `+role)
		_, _ = f.pool.Exec(context.Background(), `DROP ROLE IF EXISTS `+role)
	})
	cfg, err := pgxpool.ParseConfig(testenv.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.User = role
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := EnsureTable(ctx, pool, f.table); err != nil {
		t.Fatalf("existing table: %v", err)
	}
	if err := EnsureTable(ctx, pool, f.table+"_new"); err == nil {
		t.Fatal("creating a table without the right: want an error")
	}
	f.insert(t, evt("g1", 1), true)
	r, err := NewRelay(Config{Table: f.table, Keys: f.keys, Limits: event.Limits{MaxBytes: 4096}}, pool, f.rdb)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.RelayOnce(ctx); err != nil || n != 1 {
		t.Fatalf("relay as %s: %d %v", role, n, err)
	}
}
