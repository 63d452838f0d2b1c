package attemptlog

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
)

// callRows are partner calls in the minute minsAgo minutes before base (one
// row a partner and minute per latency, µs).
func callRows(base time.Time, minsAgo int, partner string, lat ...int) []Row {
	ts := base.Add(-time.Duration(minsAgo)*time.Minute + 7*time.Second)
	var rows []Row
	for i, l := range lat {
		id := fmt.Sprintf("%s-%d-%d", partner, minsAgo, i)
		rows = append(rows, Row{"ts": strconv.FormatInt(ts.Unix(), 10), "event_id": id, "row_id": id, "chain_id": id, "account": "acc1",
			"step": "delivered", "attempt": "1", "http_status": "200", "latency_us": strconv.Itoa(l), "partner": partner})
	}
	return rows
}

// A sealed minute answers as calls would; a row inserted into it later
// counts at once and the minute is answered again; a minute answered twice
// is taken once, from its latest answer.
func TestSealedLatencyMinutesAnswerAsCalls(t *testing.T) {
	conn, db := schemaConn(t)
	ctx := context.Background()
	// Every row's minute from one reading of the clock, so that a minute
	// turning while the test runs moves none of them.
	base := time.Now().Truncate(time.Minute)
	var rows []Row
	for _, m := range []int{10, 9, 8} {
		rows = append(rows, callRows(base, m, "erp", 100*m, 200*m, 300*m)...)
		rows = append(rows, callRows(base, m, "crm", 50*m)...)
	}
	rows = append(rows, callRows(base, 0, "erp", 7)...) // the minute still filling
	if err := Insert(ctx, conn, db, rows); err != nil {
		t.Fatal(err)
	}
	if err := Insert(ctx, conn, db, callRows(base, 9, "erp", 900)); err != nil { // a copy of erp-9-0 (a retried export)
		t.Fatal(err)
	}
	// What calls alone says, the question's text before the sealer.
	want := func() string {
		t.Helper()
		q := "SELECT partner, toStartOfMinute(ts) AS minute, count() AS calls, quantiles(0.5, 0.9, 0.99)(latency_us) AS q, max(latency_us) AS max_us " +
			"FROM `" + db + "`.calls FINAL WHERE ts >= now() - 3600 GROUP BY partner, minute ORDER BY minute, partner"
		r, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var out string
		for r.Next() {
			var p string
			var m time.Time
			var n uint64
			var qs []float64
			var mx uint32
			if err := r.Scan(&p, &m, &n, &qs, &mx); err != nil {
				t.Fatal(err)
			}
			out += fmt.Sprint(p, m.Unix(), n, qs, mx, ";")
		}
		return out
	}
	got := func() string {
		t.Helper()
		ans, err := RunQuery(ctx, conn, db, "latency_per_minute", nil)
		if err != nil {
			t.Fatal(err)
		}
		var out string
		for _, r := range ans.Rows {
			out += fmt.Sprint(r[0], r[1].(time.Time).Unix(), r[2], r[3], r[4], ";")
		}
		return out
	}
	before := want()
	if g := got(); g != before {
		t.Fatalf("before sealing: %s\nwant %s", g, before)
	}
	rdb := testenv.Redis(t)
	lock := testenv.Prefix(t) + "sealer:lock"
	t.Cleanup(func() { rdb.Del(ctx, lock) })
	s, err := NewSealer(SealerConfig{Database: db, LockKey: lock, Instance: "test"}, rdb, conn)
	if err != nil {
		t.Fatal(err)
	}
	pass := func(want int) {
		t.Helper()
		n, err := s.Pass(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("pass sealed %d minutes, want %d", n, want)
		}
	}
	pass(0) // counts seen once: not yet known to be still
	pass(6) // 3 minutes × 2 partners; the current minute stays open
	if g := got(); g != before {
		t.Fatalf("sealed: %s\nwant %s", g, before)
	}
	if n := countRows(t, conn, db, LatencyMinutesTable); n != 6 {
		t.Fatalf("latency_minutes holds %d rows, want 6", n)
	}
	pass(0) // nothing changed

	// A row bulk-loaded into a sealed minute counts at once.
	if err := Insert(ctx, conn, db, callRows(base, 9, "crm", 5, 9000)); err != nil {
		t.Fatal(err)
	}
	after := want()
	if after == before {
		t.Fatal("the late rows changed nothing in calls")
	}
	if g := got(); g != after {
		t.Fatalf("after a late insert: %s\nwant %s", g, after)
	}
	pass(0) // its count changed since the last pass
	pass(1) // crm's minute 9 answered again
	if g := got(); g != after {
		t.Fatalf("sealed again: %s\nwant %s", g, after)
	}

	// The answered minutes end at the first open one (this minute's or the
	// one before, by the server's clock), and the question reads them: an
	// answer made up here, with a count made up to match, is what it shows.
	until, err := SealedUntil(ctx, conn, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if oldest := time.Now().Truncate(time.Minute).Add(-2 * time.Minute); until.Before(oldest) {
		t.Fatalf("answered until %s, want the minutes up to %s", until, oldest)
	}
	m := base.Add(-8 * time.Minute)
	for _, q := range []string{
		"INSERT INTO `" + db + "`.calls_per_minute (minute, partner, rows) SELECT toDateTime(?, 'UTC'), 'erp', 1000",
		"INSERT INTO `" + db + "`.latency_minutes (minute, partner, calls, quantiles, max_us, inserted, sealed) SELECT toDateTime(?, 'UTC'), 'erp', 999, [1., 2., 3.], 4, 1003, 0",
	} {
		if err := conn.Exec(ctx, q, m.Unix()); err != nil {
			t.Fatal(err)
		}
	}
	if g := got(); !strings.Contains(g, fmt.Sprint("erp", m.Unix(), 999)) {
		t.Fatalf("the question did not read latency_minutes: %s", g)
	}
}

// Until calls_per_minute has been filled from an older attempts table, a
// minute it has not counted yet would be in neither half of the answer:
// every minute comes from calls.
func TestSealedUntilWaitsForTheFill(t *testing.T) {
	conn, db := schemaConn(t)
	ctx := context.Background()
	if err := conn.Exec(ctx, "DROP TABLE `"+db+"`.calls_per_minute_filled"); err != nil {
		t.Fatal(err)
	}
	until, err := SealedUntil(ctx, conn, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !until.Equal(time.Unix(0, 0)) {
		t.Fatalf("answered until %s before the fill, want the epoch", until)
	}
}
