package attemptlog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/testenv"
)

func addRows(t *testing.T, rdb *redis.Client, stream string, from, n int) {
	t.Helper()
	pipe := rdb.Pipeline()
	now := time.Now()
	for i := from; i < from+n; i++ {
		pipe.XAdd(context.Background(), &redis.XAddArgs{Stream: stream, Values: []any{
			"ts", strconv.FormatInt(now.Unix(), 10), "ts_ms", "5", "event_id", fmt.Sprint("e", i), "row_id", fmt.Sprint("r", i),
			"stream_id", "1-0", "account", "a", "entity", "x", "key", "k", "parent_entity", "", "parent_key", "", "chain_id", fmt.Sprint("e", i),
			"op", "upsert", "version", "1", "attempt", "1", "step", "delivered", "http_status", "200", "latency_us", "1500", "error", "", "instance", "t",
		}})
	}
	if _, err := pipe.Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func distinctRows(conn driver.Conn, db string) uint64 {
	var n uint64
	_ = conn.QueryRow(context.Background(), "SELECT uniqExact(row_id) FROM "+db+".attempts").Scan(&n)
	return n
}

type exportRun struct {
	x    *Exporter
	reg  *prometheus.Registry
	stop func()
}

func runExporter(t *testing.T, cfg ExporterConfig, rdb *redis.Client, conn driver.Conn) exportRun {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	x, err := NewExporter(cfg, rdb, conn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = x.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return exportRun{x: x, reg: reg, stop: stop}
}

func TestExportAcksAndTrims(t *testing.T) {
	rdb := testenv.Redis(t)
	conn, db := testenv.ClickHouse(t)
	stream := testenv.Prefix(t) + "attempts"
	t.Cleanup(func() { rdb.Del(context.Background(), stream) })
	addRows(t, rdb, stream, 0, 2500)
	rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: stream, Values: []any{"row_id", "", "junk", "1"}})
	r := runExporter(t, ExporterConfig{Stream: stream, Consumer: "c", Database: db, BatchSize: 1000, FlushInterval: 50 * time.Millisecond,
		SpoolDir: t.TempDir()}, rdb, conn)
	testenv.WaitFor(t, 20*time.Second, "2,500 rows in ClickHouse", func() bool { return distinctRows(conn, db) == 2500 })
	addRows(t, rdb, stream, 2500, 10) // a partial batch goes out after the flush interval
	testenv.WaitFor(t, 20*time.Second, "2,510 rows in ClickHouse", func() bool { return distinctRows(conn, db) == 2510 })
	testenv.WaitFor(t, 5*time.Second, "the stream emptied", func() bool { n, _ := rdb.XLen(context.Background(), stream).Result(); return n == 0 })
	if n := testutil.ToFloat64(r.x.m.exported); n != 2510 {
		t.Fatalf("exported %v", n)
	}
	if n := testutil.ToFloat64(r.x.m.dropped); n != 1 {
		t.Fatalf("dropped %v, want the one junk entry", n)
	}
}

// With ClickHouse away, rows wait in Redis up to the backlog and then in the
// spool; when it is back, the spool goes in first and every row arrives.
func TestSpillToSpoolAndBack(t *testing.T) {
	rdb := testenv.Redis(t)
	stream := testenv.Prefix(t) + "attempts"
	t.Cleanup(func() { rdb.Del(context.Background(), stream) })
	server := testenv.NewClickHouseServer(t, 19110)
	away, err := Open(Options{Addr: server.Addr, Database: "default", Username: "default"})
	if err != nil {
		t.Fatal(err)
	}
	spoolDir := t.TempDir()
	db := "spill_" + strings.TrimPrefix(strings.ReplaceAll(testenv.Prefix(t), ":", "_"), "test_")
	db = db[:len(db)-1]
	const backlog = 300
	r := runExporter(t, ExporterConfig{Stream: stream, Consumer: "c", Database: db, BatchSize: 200, FlushInterval: 20 * time.Millisecond,
		BacklogMax: backlog, SpoolDir: spoolDir, RetryEvery: 100 * time.Millisecond}, rdb, away)
	addRows(t, rdb, stream, 0, 1000)
	testenv.WaitFor(t, 20*time.Second, "Redis back under the backlog", func() bool {
		n, _ := rdb.XLen(context.Background(), stream).Result()
		return n <= backlog
	})
	segs, _ := filepath.Glob(filepath.Join(spoolDir, "attempts-*.jsonl"))
	if len(segs) == 0 || testutil.ToFloat64(r.x.m.spooled) < 1000-backlog {
		t.Fatalf("%d segments, %v spooled", len(segs), testutil.ToFloat64(r.x.m.spooled))
	}
	addRows(t, rdb, stream, 1000, 50)

	server.Start()
	conn, _ := Open(Options{Addr: server.Addr, Database: "default", Username: "default"})
	defer conn.Close()
	testenv.WaitFor(t, 60*time.Second, "all 1,050 rows in ClickHouse", func() bool { return distinctRows(conn, db) == 1050 })
	testenv.WaitFor(t, 10*time.Second, "spool emptied", func() bool {
		segs, _ := filepath.Glob(filepath.Join(spoolDir, "attempts-*"))
		return len(segs) == 0
	})
	if n := testutil.ToFloat64(r.x.m.replayed); n != testutil.ToFloat64(r.x.m.spooled) {
		t.Fatalf("replayed %v of %v spooled", n, testutil.ToFloat64(r.x.m.spooled))
	}
	if n := testutil.ToFloat64(r.x.m.dropped); n != 0 {
		t.Fatalf("dropped %v", n)
	}
	_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
	_ = os.RemoveAll(spoolDir)
}

// With several shards the shard's prefix goes in front of every row_id, so
// that equal entry ids of two shards' streams stay two rows.
func TestExportRowIDPrefix(t *testing.T) {
	rdb := testenv.Redis(t)
	conn, db := testenv.ClickHouse(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { rdb.Del(context.Background(), prefix+"a0", prefix+"a1") })
	for i := range 2 {
		stream := fmt.Sprintf("%sa%d", prefix, i)
		addRows(t, rdb, stream, 0, 10) // the same row ids r0 … r9 in both
		runExporter(t, ExporterConfig{Stream: stream, RowIDPrefix: fmt.Sprintf("%d/", i), Consumer: "c", Database: db,
			SpoolDir: t.TempDir(), FlushInterval: 10 * time.Millisecond}, rdb, conn)
	}
	testenv.WaitFor(t, 30*time.Second, "20 distinct rows", func() bool { return distinctRows(conn, db) == 20 })
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+db+".attempts WHERE row_id IN ('0/r3', '1/r3')").Scan(&n); err != nil || n != 2 {
		t.Fatalf("prefixed rows: %d %v", n, err)
	}
}
