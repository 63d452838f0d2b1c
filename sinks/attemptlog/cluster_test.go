package attemptlog

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/testenv"
)

// clusterFixture is a database of the test's own on the test cluster's
// servers: conn reaches the first server as streamsync does with
// clickhouse.cluster set, shards each server directly.
type clusterFixture struct {
	conn    driver.Conn
	shards  []driver.Conn
	db      string
	cluster Cluster
}

func newClusterFixture(t *testing.T) clusterFixture {
	t.Helper()
	name, shards, db := testenv.ClickHouseShards(t)
	_, addrs := testenv.ClickHouseCluster(t)
	o := Options{Addr: addrs[0], Database: db, Username: "default", Cluster: name}
	conn, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return clusterFixture{conn: conn, shards: shards, db: db, cluster: o.Sharding()}
}

// accountsOn counts each account's rows in a shard's table.
func (f clusterFixture) accountsOn(t *testing.T, shard int, table string) map[string]uint64 {
	t.Helper()
	rows, err := f.shards[shard].Query(context.Background(), fmt.Sprintf("SELECT account, count() FROM `%s`.`%s` GROUP BY account", f.db, table))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var a string
		var n uint64
		if err := rows.Scan(&a, &n); err != nil {
			t.Fatal(err)
		}
		out[a] = n
	}
	return out
}

// The exporter writes through the Distributed attempts: once a row is
// acked it is on its shard, each account's rows on one shard, both shards
// holding some; the shards' views fill their derived tables.
func TestClusterExporterShardsByAccount(t *testing.T) {
	f := newClusterFixture(t)
	rdb := testenv.Redis(t)
	ctx := context.Background()
	stream := testenv.Prefix(t) + "attempts"
	t.Cleanup(func() { rdb.Del(ctx, stream) })
	const n, accounts = 600, 24
	pipe := rdb.Pipeline()
	now := time.Now()
	for i := range n {
		step := "delivered"
		if i%7 == 0 {
			step = "dead"
		}
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{
			"ts", strconv.FormatInt(now.Unix(), 10), "ts_ms", "5", "event_id", fmt.Sprint("e", i), "row_id", fmt.Sprint("r", i),
			"stream_id", "1-0", "account", fmt.Sprint("acc", i%accounts), "entity", "x", "key", fmt.Sprint("k", i), "parent_entity", "", "parent_key", "",
			"chain_id", fmt.Sprint("e", i), "op", "upsert", "version", "1", "attempt", "1", "step", step, "http_status", "200",
			"latency_us", "1500", "error", "", "instance", "t",
		}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	runExporter(t, ExporterConfig{Stream: stream, Consumer: "c", Database: f.db, BatchSize: 100, FlushInterval: 20 * time.Millisecond,
		SpoolDir: t.TempDir(), Cluster: f.cluster}, rdb, f.conn)
	testenv.WaitFor(t, 30*time.Second, "every row acked and trimmed", func() bool {
		l, _ := rdb.XLen(ctx, stream).Result()
		return l == 0 && distinctRows(f.conn, f.db) == n
	})
	// Acked means on the shards (insert_distributed_sync): no waiting here.
	seen := map[string]int{}
	total := uint64(0)
	for i := range f.shards {
		on := f.accountsOn(t, i, "attempts_local")
		if len(on) == 0 {
			t.Errorf("shard %d holds no rows", i+1)
		}
		for a, c := range on {
			total += c
			if s, ok := seen[a]; ok {
				t.Errorf("account %s has rows on shards %d and %d", a, s+1, i+1)
			}
			seen[a] = i
		}
		if ends := f.accountsOn(t, i, "chain_ends_local"); len(ends) != len(on) {
			t.Errorf("shard %d: chain_ends_local has the chains of %d accounts, attempts_local of %d", i+1, len(ends), len(on))
		}
	}
	if total != n || len(seen) != accounts {
		t.Fatalf("%d rows of %d accounts on the shards, want %d of %d", total, len(seen), n, accounts)
	}
}

// Retention drops the old days of the local tables, attempts_local and
// the derived ones, on every shard, and keeps the rest.
func TestClusterRetentionDropsOldDaysOnEveryShard(t *testing.T) {
	f := newClusterFixture(t)
	ctx := context.Background()
	if err := EnsureSchemaWith(ctx, f.conn, f.db, SchemaOptions{Cluster: f.cluster}); err != nil {
		t.Fatal(err)
	}
	days := []time.Time{
		time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 5, 23, 59, 59, 0, time.UTC), // the newest old day
		time.Date(2026, 3, 6, 14, 0, 0, 0, time.UTC),   // the day the cutoff falls in
		retentionNow.Add(-time.Hour),
	}
	var rows []Row
	for i, ts := range days {
		for a := range 16 {
			id := fmt.Sprintf("%d-%d", i, a)
			rows = append(rows, Row{"ts": strconv.FormatInt(ts.Unix(), 10), "event_id": id, "row_id": id, "chain_id": id,
				"account": fmt.Sprint("acc", a), "step": "dead", "attempt": "1", "http_status": "422", "parent_entity": "main", "parent_key": "p"}) // a row of every derived table
		}
	}
	if err := Insert(ctx, f.conn, f.db, rows); err != nil {
		t.Fatal(err)
	}
	// latency_minutes, which the sealer writes (through the Distributed
	// table, to any shard): a minute of each day on each shard.
	syncCtx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	for range 16 {
		for _, ts := range days {
			if err := f.conn.Exec(syncCtx, "INSERT INTO `"+f.db+"`.latency_minutes (minute, partner, calls, quantiles, max_us, inserted, sealed) SELECT toDateTime(?, 'UTC'), 'erp', 1, [1., 1., 1.], 1, 1, 1",
				ts.Truncate(time.Minute).Unix()); err != nil {
				t.Fatal(err)
			}
		}
	}
	rdb := testenv.Redis(t)
	lock := testenv.Prefix(t) + "retention:lock"
	t.Cleanup(func() { rdb.Del(ctx, lock) })
	r, err := NewRetainer(RetentionConfig{Database: f.db, Retention: retentionDays, LockKey: lock, Instance: "test", Cluster: f.cluster,
		Now: func() time.Time { return retentionNow }}, rdb, f.conn)
	if err != nil {
		t.Fatal(err)
	}
	n, err := r.Pass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Two old days, each of attempts_local and of each derived table, on both shards.
	if want := 2 * (1 + len(DerivedTables)) * len(f.shards); n != want {
		t.Errorf("dropped %d partitions, want %d", n, want)
	}
	for i, s := range f.shards {
		for _, table := range append([]string{Table}, DerivedNames()...) {
			ids, err := partitionIDs(ctx, s, f.db, table+LocalSuffix)
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprint(sortedDays(ids))
			if want := "[20260306 20260310]"; got != want {
				t.Errorf("shard %d %s: days %s, want %s", i+1, table+LocalSuffix, got, want)
			}
		}
	}
}
