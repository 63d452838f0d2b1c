package attemptlog

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/testenv"
)

// The attempts stream deleted under a running exporter (DEL, FLUSHALL, an
// eviction) is made again with its group: rows appended afterwards still
// reach ClickHouse.
func TestExporterRecoversFromAVanishedStream(t *testing.T) {
	rdb := testenv.Redis(t)
	conn, db := testenv.ClickHouse(t)
	stream := testenv.Prefix(t) + "attempts"
	ctx := context.Background()
	t.Cleanup(func() { rdb.Del(ctx, stream) })
	runExporter(t, ExporterConfig{Stream: stream, Consumer: "c", Database: db, FlushInterval: 20 * time.Millisecond,
		SpoolDir: t.TempDir()}, rdb, conn)
	addRows(t, rdb, stream, 0, 10)
	testenv.WaitFor(t, 20*time.Second, "10 rows in ClickHouse", func() bool { return distinctRows(conn, db) == 10 })
	for round := 1; round <= 2; round++ {
		rdb.Del(ctx, stream)
		addRows(t, rdb, stream, round*10, 10) // a stream without the group
		want := uint64(10 + round*10)
		testenv.WaitFor(t, 20*time.Second, "rows after the stream was deleted", func() bool { return distinctRows(conn, db) == want })
	}
}

// Rows deleted from the attempts stream while another exporter had them
// pending are not dropped silently when they are claimed: they count in
// streamsync_attempts_dropped_total; the others are exported.
func TestRowsDeletedWhilePendingCountAsDropped(t *testing.T) {
	rdb := testenv.Redis(t)
	conn, db := testenv.ClickHouse(t)
	stream := testenv.Prefix(t) + "attempts"
	ctx := context.Background()
	t.Cleanup(func() { rdb.Del(ctx, stream) })
	if err := rdb.XGroupCreateMkStream(ctx, stream, DefaultGroup, "0").Err(); err != nil {
		t.Fatal(err)
	}
	addRows(t, rdb, stream, 0, 5)
	read, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: DefaultGroup, Consumer: "dead", Streams: []string{stream, ">"}, Count: 5}).Result()
	if err != nil {
		t.Fatal(err)
	}
	rdb.XDel(ctx, stream, read[0].Messages[1].ID, read[0].Messages[3].ID)
	r := runExporter(t, ExporterConfig{Stream: stream, Consumer: "c", Database: db, FlushInterval: 20 * time.Millisecond,
		ClaimMinIdle: 10 * time.Millisecond, SpoolDir: t.TempDir()}, rdb, conn)
	testenv.WaitFor(t, 20*time.Second, "3 rows in ClickHouse", func() bool { return distinctRows(conn, db) == 3 })
	testenv.WaitFor(t, 5*time.Second, "2 rows counted as dropped", func() bool { return testutil.ToFloat64(r.x.m.dropped) == 2 })
}
