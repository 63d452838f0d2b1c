package deadarchive

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/streamsync/streamsync/internal/testenv"
)

// closedClickHouse is a connection to a port nobody listens on.
func closedClickHouse(t *testing.T) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{"127.0.0.1:1"}, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// Without ClickHouse nothing is trimmed, however old; a pass warns (at most
// once an hour) while dead letters older than dead.max_age stay, and the
// metrics say that archiving is off and how old the oldest dead letter is.
func TestWithoutClickHouseNothingIsTrimmed(t *testing.T) {
	f := newFixture(t, testenv.Redis(t), 2)
	ctx := context.Background()
	now := f.clock.Now()
	ids := []string{f.dead(0, 40*day, letter("a", "sub", "k", 40*day, now)...), f.dead(0, time.Hour, letter("b", "sub", "k2", time.Hour, now)...)}
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	a, err := New(Config{Shards: f.shards, MaxAge: maxAge, LockKey: f.shards[0].DeadArchiveLock(), Clock: f.clock,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: reg}, f.rdb)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if n, err := a.Pass(ctx); err != nil || n != 0 {
			t.Fatalf("pass without ClickHouse: %d, %v", n, err)
		}
		f.clock.Add(10 * time.Minute)
	}
	if got := f.ids(0); !slices.Equal(got, ids) {
		t.Fatalf("without ClickHouse the stream holds %v, want all of %v", got, ids)
	}
	if c := strings.Count(logs.String(), "no ClickHouse to archive them to"); c != 1 {
		t.Fatalf("%d warnings in three passes within the hour, want 1:\n%s", c, logs.String())
	}
	f.clock.Add(time.Hour)
	if _, _ = a.Pass(ctx); strings.Count(logs.String(), "no ClickHouse to archive them to") != 2 {
		t.Fatalf("no second warning an hour later:\n%s", logs.String())
	}
	want := `
# HELP streamsync_dead_archive_enabled 1 when dead letters older than dead.max_age are archived to ClickHouse and trimmed; 0 without ClickHouse (clickhouse.addr empty): they stay in Redis.
# TYPE streamsync_dead_archive_enabled gauge
streamsync_dead_archive_enabled 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "streamsync_dead_archive_enabled"); err != nil {
		t.Fatal(err)
	}
	age := oldestMetric(t, reg)
	if wantAge := f.clock.Now().Sub(now.Add(-40 * day)).Seconds(); age < wantAge-1 || age > wantAge+1 {
		t.Fatalf("oldest age %.0f s, want %.0f", age, wantAge)
	}
}

// The metrics of an archive pass: how many were archived, and the oldest
// dead letter's age before and after.
func TestArchiveMetrics(t *testing.T) {
	f := newFixture(t, testenv.Redis(t), 2)
	ctx := context.Background()
	now := f.clock.Now()
	f.dead(0, 40*day, letter("a", "sub", "k", 40*day, now)...)
	f.dead(1, 50*day, letter("b", "sub", "k", 50*day, now)...)
	f.dead(1, 2*day, letter("c", "sub", "k2", 2*day, now)...)
	reg := prometheus.NewRegistry()
	a, err := New(Config{Shards: f.shards, MaxAge: maxAge, LockKey: f.shards[0].DeadArchiveLock(), Store: NewClickHouseStore(f.ch, f.db),
		Clock: f.clock, Registerer: reg}, f.rdb)
	if err != nil {
		t.Fatal(err)
	}
	if age := oldestMetric(t, reg); age != (50 * day).Seconds() {
		t.Fatalf("oldest age before the pass %.0f s, want 50 days", age)
	}
	if n, err := a.Pass(ctx); err != nil || n != 2 {
		t.Fatalf("pass: %d, %v", n, err)
	}
	if age := oldestMetric(t, reg); age != (2 * day).Seconds() {
		t.Fatalf("oldest age after the pass %.0f s, want 2 days", age)
	}
	want := `
# HELP streamsync_dead_archived_total Dead letters older than dead.max_age archived to ClickHouse (<db>.dead_letters) and removed from the dead-letter stream by this process.
# TYPE streamsync_dead_archived_total counter
streamsync_dead_archived_total 2
# HELP streamsync_dead_archive_enabled 1 when dead letters older than dead.max_age are archived to ClickHouse and trimmed; 0 without ClickHouse (clickhouse.addr empty): they stay in Redis.
# TYPE streamsync_dead_archive_enabled gauge
streamsync_dead_archive_enabled 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "streamsync_dead_archived_total", "streamsync_dead_archive_enabled"); err != nil {
		t.Fatal(err)
	}
}

func oldestMetric(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "streamsync_dead_oldest_age_seconds" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no streamsync_dead_oldest_age_seconds")
	return 0
}
