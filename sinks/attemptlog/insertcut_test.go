package attemptlog_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/cutproxy"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// cutRows are chains of every kind the questions ask about, with steps
// between 8 and 20 minutes ago: delivered at once, delivered after
// retries, dead after retries, invalid, stuck in retry, and a dead parent
// whose two children died for want of it.
func cutRows(now time.Time) []attemptlog.Row {
	var rows []attemptlog.Row
	n := 0
	add := func(chain, account, entity, key, parentEntity, parentKey, step string, attempt, status int, errText string) {
		at := now.Add(-20*time.Minute + time.Duration(n)*7*time.Second)
		n++
		rows = append(rows, attemptlog.Row{"ts": strconv.FormatInt(at.Unix(), 10), "ts_ms": strconv.Itoa(at.Nanosecond() / 1e6),
			"event_id": chain, "row_id": fmt.Sprintf("%s:%d:%s", chain, attempt, step), "stream_id": fmt.Sprintf("%d-0", n),
			"account": account, "entity": entity, "key": key, "parent_entity": parentEntity, "parent_key": parentKey,
			"chain_id": chain, "op": "upsert", "version": "1", "attempt": strconv.Itoa(attempt), "step": step,
			"http_status": strconv.Itoa(status), "latency_us": strconv.Itoa(1000 + 37*n), "error": errText, "instance": "i1",
			"partner": attemptlog.DefaultPartner, "direction": attemptlog.DirectionOut})
	}
	for i := range 6 {
		c, acc := fmt.Sprint("ok", i), fmt.Sprint("acc", i%3)
		add(c, acc, "contact", c, "", "", "delivered", 1, 200, "")
	}
	for i := range 4 {
		c, acc := fmt.Sprint("late", i), fmt.Sprint("acc", i%2)
		add(c, acc, "contact", c, "", "", "retry_scheduled", 1, 503, "partner answered 503 Service Unavailable")
		add(c, acc, "contact", c, "", "", "delivered", 2, 201, "")
	}
	for i := range 3 {
		c, acc := fmt.Sprint("dead", i), fmt.Sprint("acc", i)
		for a := 1; a <= 2; a++ {
			add(c, acc, "deal", c, "", "", "retry_scheduled", a, 500, "partner answered 500 Internal Server Error")
		}
		add(c, acc, "deal", c, "", "", "dead", 3, 422, "partner answered 422 invalid amount")
	}
	add("bad0", "acc1", "contact", "bad0", "", "", "invalid", 0, 0, "version: required")
	add("stuck0", "acc2", "contact", "stuck0", "", "", "retry_scheduled", 1, 429, "partner answered 429 Too Many Requests")
	add("parent0", "acc0", "company", "p0", "", "", "dead", 1, 400, "partner answered 400 bad domain")
	for i := range 2 {
		c := fmt.Sprint("child", i)
		add(c, "acc0", "contact", c, "company", "p0", "parked", 0, 0, "")
		add(c, "acc0", "contact", c, "company", "p0", "dead", 0, 0, "parent company/p0 was not delivered")
	}
	return rows
}

// pushRows appends rows to the attempts stream as the pipeline does.
func pushRows(t *testing.T, rdb *redis.Client, stream string, rows []attemptlog.Row) {
	t.Helper()
	pipe := rdb.Pipeline()
	for _, r := range rows {
		var vals []any
		for k, v := range r {
			if k != "partner" && k != "direction" {
				vals = append(vals, k, v)
			}
		}
		pipe.XAdd(context.Background(), &redis.XAddArgs{Stream: stream, Values: vals})
	}
	if _, err := pipe.Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func countRows(conn driver.Conn, db string) uint64 {
	var n uint64
	_ = conn.QueryRow(context.Background(), "SELECT count() FROM `"+db+"`.attempts").Scan(&n)
	return n
}

// An INSERT that ClickHouse stored, whose answer the connection lost (a
// proxy between the exporter and ClickHouse forwards the rows and cuts the
// connection as the answer comes back): the exporter cannot tell it from
// an insert that failed, keeps the rows in Redis and inserts them again,
// so attempts and every derived table hold each row twice. Every question
// in sql/ answers exactly what it answers over the same rows written once:
// the questions count distinct row_ids.
func TestInsertAnswerLostCountsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Redis and ClickHouse")
	}
	ctx := context.Background()
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	direct, once := testenv.ClickHouse(t)
	_, twice := testenv.ClickHouse(t)
	now := time.Now()
	rows := cutRows(now)

	// without the fault
	for _, db := range []string{once, twice} {
		if err := attemptlog.EnsureSchemaWith(ctx, direct, db, attemptlog.SchemaOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := attemptlog.Insert(ctx, direct, once, rows); err != nil {
		t.Fatal(err)
	}

	// with it
	proxy, err := cutproxy.New(testenv.ClickHouseAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	viaProxy, err := clickhouse.Open(&clickhouse.Options{Addr: []string{proxy.Addr()}, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = viaProxy.Close() })
	proxy.CutBeforeReply(func() bool { return countRows(direct, twice) >= uint64(len(rows)) })
	stream := prefix + "attempts"
	pushRows(t, rdb, stream, rows)
	x, err := attemptlog.NewExporter(attemptlog.ExporterConfig{Stream: stream, Consumer: "c", Database: twice, SpoolDir: t.TempDir(),
		FlushInterval: 20 * time.Millisecond, RetryEvery: 20 * time.Millisecond}, rdb, viaProxy)
	if err != nil {
		t.Fatal(err)
	}
	xctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = x.Run(xctx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	testenv.WaitFor(t, 30*time.Second, "the rows exported, the first answer cut", func() bool {
		return proxy.Cuts() == 1 && rdb.XLen(ctx, stream).Val() == 0
	})
	if got := countRows(direct, twice); got != 2*uint64(len(rows)) {
		t.Fatalf("attempts holds %d rows after the cut insert and its retry, want each of the %d twice", got, len(rows))
	}

	since := now.Add(-time.Hour)
	for _, name := range questionsOverAttempts(t) {
		want, err := attemptlog.RunQuery(ctx, direct, once, name, map[string]any{"since": since.UTC()})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := attemptlog.RunQuery(ctx, direct, twice, name, map[string]any{"since": since.UTC()})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		w, g := lines(t, want, want.Columns), lines(t, got, want.Columns)
		if len(w) == 0 {
			t.Errorf("%s: answers nothing over the rows; they do not exercise it", name)
		}
		if !slices.Equal(w, g) {
			t.Errorf("%s: after the lost answer %d rows, without the fault %d; first difference:\n got  %q\n want %q", name, len(g), len(w), firstDiff(g, w), firstDiff(w, g))
		}
	}
}
