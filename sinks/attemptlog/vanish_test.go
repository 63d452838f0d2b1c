package attemptlog

import (
	"context"
	"testing"
	"time"

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
