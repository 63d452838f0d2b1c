package attemptlog

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/lease"
	"github.com/streamsync/streamsync/internal/testenv"
)

// retentionNow is the fake now of the retention tests: with 4 days of
// retention the cutoff is 2026-03-06 15:00 UTC, so 03-05 is the newest
// whole day before it and 03-06 the day it falls in.
var retentionNow = time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)

const retentionDays = 4 * 24 * time.Hour

// retentionFixture is an attempts table with rows on several days, a
// derived table of the same days, and a lease key of the test's own.
type retentionFixture struct {
	conn driver.Conn
	db   string
	rdb  *redis.Client
	lock string
}

func newRetentionFixture(t *testing.T) retentionFixture {
	t.Helper()
	conn, db := testenv.ClickHouse(t)
	ctx := context.Background()
	if err := EnsureSchema(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	at := []time.Time{
		time.Date(2026, 2, 27, 8, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 5, 23, 59, 59, 0, time.UTC), // the last second of the newest old day
		time.Date(2026, 3, 6, 0, 0, 0, 0, time.UTC),    // the day the cutoff falls in, before the cutoff
		time.Date(2026, 3, 6, 14, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 7, 9, 0, 0, 0, time.UTC),
		retentionNow.Add(-time.Hour), // today
	}
	var rows []Row
	for i, ts := range at {
		for j := range 3 {
			id := strconv.Itoa(i) + "-" + strconv.Itoa(j)
			rows = append(rows, Row{"ts": strconv.FormatInt(ts.Unix(), 10), "event_id": id, "row_id": id, "chain_id": id, "account": "a", "step": "delivered"})
		}
	}
	if err := Insert(ctx, conn, db, rows); err != nil {
		t.Fatal(err)
	}
	// A table derived from the attempts, partitioned by the same days.
	if err := conn.Exec(ctx, "CREATE TABLE "+db+".steps_by_day (ts DateTime('UTC'), step String, n UInt64) ENGINE = SummingMergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY (ts, step)"); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "INSERT INTO "+db+".steps_by_day SELECT toStartOfDay(ts) AS d, step, count() FROM "+db+".attempts GROUP BY d, step"); err != nil {
		t.Fatal(err)
	}
	rdb := testenv.Redis(t)
	lock := testenv.Prefix(t) + "retention:lock"
	t.Cleanup(func() { rdb.Del(context.Background(), lock) })
	return retentionFixture{conn: conn, db: db, rdb: rdb, lock: lock}
}

func (f retentionFixture) retainer(t *testing.T, retention time.Duration, reg prometheus.Registerer, tables ...string) *Retainer {
	t.Helper()
	r, err := NewRetainer(RetentionConfig{Database: f.db, Tables: tables, Retention: retention, LockKey: f.lock, Instance: "test",
		Now: func() time.Time { return retentionNow }, Registerer: reg}, f.rdb, f.conn)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// days lists the days a table has rows of, YYYYMMDD, with the rows of each.
func (f retentionFixture) days(t *testing.T, table string) map[string]uint64 {
	t.Helper()
	rows, err := f.conn.Query(context.Background(), "SELECT toString(toYYYYMMDD(ts)) AS d, count() FROM "+f.db+"."+table+" GROUP BY d")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]uint64{}
	for rows.Next() {
		var d string
		var n uint64
		if err := rows.Scan(&d, &n); err != nil {
			t.Fatal(err)
		}
		got[d] = n
	}
	return got
}

func sortedKeys(m map[string]uint64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Only the days entirely older than now − retention go, from the attempts
// table and the derived table alike; the day the cutoff falls in (rows
// before the cutoff included) and today stay whole.
func TestRetentionDropsOnlyWholeOldDays(t *testing.T) {
	f := newRetentionFixture(t)
	reg := prometheus.NewRegistry()
	r := f.retainer(t, retentionDays, reg, Table, "steps_by_day")
	n, err := r.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 6 { // 3 old days × 2 tables
		t.Fatalf("dropped %d partitions, want 6", n)
	}
	kept := []string{"20260306", "20260307", "20260310"}
	got := f.days(t, Table)
	if d := sortedKeys(got); !slices.Equal(d, kept) {
		t.Fatalf("attempts keeps days %v, want %v", d, kept)
	}
	if got["20260306"] != 6 || got["20260307"] != 3 || got["20260310"] != 3 {
		t.Fatalf("rows of the kept days changed: %v", got)
	}
	if d := sortedKeys(f.days(t, "steps_by_day")); !slices.Equal(d, kept) {
		t.Fatalf("steps_by_day keeps days %v, want %v", d, kept)
	}
	if v := testutil.ToFloat64(r.m.dropped.WithLabelValues(Table)); v != 3 {
		t.Errorf("streamsync_attempts_partitions_dropped_total{table=attempts} %v, want 3", v)
	}
	if v := testutil.ToFloat64(r.m.dropped.WithLabelValues("steps_by_day")); v != 3 {
		t.Errorf("streamsync_attempts_partitions_dropped_total{table=steps_by_day} %v, want 3", v)
	}
	if v := testutil.ToFloat64(r.m.lastSuccess); v != float64(retentionNow.Unix()) {
		t.Errorf("last success %v, want %d", v, retentionNow.Unix())
	}
	if n, err := r.Pass(context.Background()); err != nil || n != 0 {
		t.Fatalf("second pass dropped %d (%v), want 0", n, err)
	}
	if v := testutil.ToFloat64(r.m.failures); v != 0 {
		t.Errorf("failures %v", v)
	}
}

// A table partitioned otherwise than by day (a month here) is never
// dropped, however old.
func TestRetentionLeavesPartitionsThatAreNotDays(t *testing.T) {
	f := newRetentionFixture(t)
	ctx := context.Background()
	if err := f.conn.Exec(ctx, "CREATE TABLE "+f.db+".by_month (ts DateTime('UTC'), n UInt64) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY ts"); err != nil {
		t.Fatal(err)
	}
	if err := f.conn.Exec(ctx, "INSERT INTO "+f.db+".by_month SELECT ts, 1 FROM "+f.db+".attempts"); err != nil {
		t.Fatal(err)
	}
	old, err := OldPartitions(ctx, f.conn, f.db, []string{"by_month"}, retentionNow.Add(-retentionDays))
	if err != nil || len(old) != 0 {
		t.Fatalf("old partitions of a table by month: %v (%v), want none", old, err)
	}
}

// clickhouse.retention 0 keeps every row; anything between 0 and a day is
// refused, naming the setting.
func TestRetentionZeroKeepsEverything(t *testing.T) {
	f := newRetentionFixture(t)
	before := f.days(t, Table)
	r := f.retainer(t, 0, nil)
	if r.Enabled() {
		t.Fatal("enabled with retention 0")
	}
	if n, err := r.Pass(context.Background()); err != nil || n != 0 {
		t.Fatalf("pass with retention 0 dropped %d (%v)", n, err)
	}
	done := make(chan struct{})
	go func() { r.Run(context.Background()); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run with retention 0 did not return")
	}
	if after := f.days(t, Table); len(after) != len(before) {
		t.Fatalf("days %v, want %v", sortedKeys(after), sortedKeys(before))
	}
	_, err := NewRetainer(RetentionConfig{Database: f.db, Retention: 12 * time.Hour, LockKey: f.lock}, f.rdb, f.conn)
	if err == nil || !strings.Contains(err.Error(), "clickhouse.retention") {
		t.Fatalf("retention 12h: %v, want an error naming clickhouse.retention", err)
	}
}

// While another process holds the lease nothing is dropped; processes
// passing at once drop every old day once between them.
func TestRetentionOneProcessAtATime(t *testing.T) {
	f := newRetentionFixture(t)
	ctx := context.Background()
	other := lease.New(f.rdb, f.lock, "other", time.Minute)
	if ok, err := other.Take(ctx); err != nil || !ok {
		t.Fatalf("take the lease: %v %v", ok, err)
	}
	a := f.retainer(t, retentionDays, nil)
	if n, err := a.Pass(ctx); err != nil || n != 0 {
		t.Fatalf("pass beside the holder dropped %d (%v), want 0", n, err)
	}
	if got := len(f.days(t, Table)); got != 6 {
		t.Fatalf("%d days left while another process held the lease, want all 6", got)
	}
	if _, err := other.Release(ctx); err != nil {
		t.Fatal(err)
	}
	b := f.retainer(t, retentionDays, nil)
	tables := append([]string{Table}, DerivedNames()...)
	old, err := OldPartitions(ctx, f.conn, f.db, tables, retentionNow.Add(-retentionDays))
	if err != nil {
		t.Fatal(err)
	}
	if len(old) < 6 {
		t.Fatalf("old partitions %v: want the 3 old days of attempts and of the tables derived from it", old)
	}
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i, r := range []*Retainer{a, b} {
		wg.Go(func() {
			n, err := r.Pass(ctx)
			if err != nil {
				t.Error(err)
			}
			counts[i] = n
		})
	}
	wg.Wait()
	// the 3 old days of attempts and of each table the views filled
	// (chain_children stays empty: no row has a parent)
	if counts[0]+counts[1] != len(old) {
		t.Fatalf("two processes dropped %v partitions, want %d between them", counts, len(old))
	}
	if d := sortedKeys(f.days(t, Table)); len(d) != 3 {
		t.Fatalf("days left %v", d)
	}
	for _, tb := range DerivedNames() {
		if d, err := partitionIDs(ctx, f.conn, f.db, tb); err != nil || len(d) > 3 {
			t.Fatalf("days of %s left %v (%v)", tb, d, err)
		}
	}
}

// Run makes its first pass soon after it starts, not an Every later.
func TestRetentionRunsSoonAfterStart(t *testing.T) {
	f := newRetentionFixture(t)
	r, err := NewRetainer(RetentionConfig{Database: f.db, Retention: retentionDays, LockKey: f.lock, Instance: "test",
		First: 10 * time.Millisecond, Every: time.Hour, Now: func() time.Time { return retentionNow }}, f.rdb, f.conn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	testenv.WaitFor(t, 10*time.Second, "the first pass", func() bool { return testutil.ToFloat64(r.m.lastSuccess) > 0 })
	if d := sortedKeys(f.days(t, Table)); len(d) != 3 {
		t.Fatalf("days left %v", d)
	}
}

// A pass that cannot reach ClickHouse counts a failure and sets no success.
func TestRetentionFailureIsCounted(t *testing.T) {
	f := newRetentionFixture(t)
	conn, err := Open(Options{Addr: testenv.ClickHouseAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()
	r, err := NewRetainer(RetentionConfig{Database: f.db, Retention: retentionDays, LockKey: f.lock, Now: func() time.Time { return retentionNow }}, f.rdb, conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Pass(context.Background()); err == nil {
		t.Fatal("a pass over a closed connection succeeded")
	}
	if v := testutil.ToFloat64(r.m.failures); v != 1 {
		t.Errorf("failures %v, want 1", v)
	}
	if v := testutil.ToFloat64(r.m.lastSuccess); v != 0 {
		t.Errorf("last success %v, want 0", v)
	}
	if ok, _ := lease.New(f.rdb, f.lock, "x", time.Minute).Held(context.Background()); ok || f.rdb.Exists(context.Background(), f.lock).Val() != 0 {
		t.Error("the lease was not released after the failed pass")
	}
}
