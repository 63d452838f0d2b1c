package attemptlog_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/loadtest/chainload"
	"github.com/streamsync/streamsync/sinks/attemptlog"
	"github.com/streamsync/streamsync/sql"
)

// The questions read tables derived from attempts (chain_ends, failures,
// calls, chain_minutes…). testdata/reference holds each question as it was
// asked of attempts alone, with FINAL; over the same rows both must give the
// same answer: chains straddling the window's start, copies of a row_id
// (an export retried, a bulk load run twice), a row inserted in bulk after
// the others. Two rules changed on purpose, each said in its reference:
// retry_distribution orders two steps of a chain in the same millisecond by
// 19 bits of cityHash64(row_id), not by row_id's text, so that a chain's
// latest step is a max over numbers; failed_chains_per_account counts dead or
// invalid as later than a failure or wait of the same millisecond, and those
// as later than other steps, so that it reads only the dead and invalid rows.

// referenceAnswer runs testdata/reference/<name>.sql over db with the
// window starting at since.
func referenceAnswer(t *testing.T, conn driver.Conn, db, name string, since time.Time) attemptlog.Answer {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "reference", name+".sql"))
	if err != nil {
		t.Fatal(err)
	}
	q := strings.ReplaceAll(string(b), "streamsync.", "`"+db+"`.")
	q = strings.ReplaceAll(q, "(now() - 3600)/*@since*/", fmt.Sprintf("toDateTime(%d)", since.Unix()))
	if strings.Contains(q, "/*@since*/") {
		t.Fatalf("reference %s: a since marker left unbound", name)
	}
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("reference %s: %v", name, err)
	}
	defer rows.Close()
	ans := attemptlog.Answer{Columns: rows.Columns()}
	types := rows.ColumnTypes()
	for rows.Next() {
		dest := make([]any, len(types))
		for i, c := range types {
			dest[i] = reflect.New(c.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			row[i] = reflect.ValueOf(d).Elem().Interface()
		}
		ans.Rows = append(ans.Rows, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ans
}

// lines renders an answer's rows, the columns named in cols only, sorted.
func lines(t *testing.T, a attemptlog.Answer, cols []string) []string {
	t.Helper()
	idx := make([]int, len(cols))
	for i, c := range cols {
		idx[i] = slices.Index(a.Columns, c)
		if idx[i] < 0 {
			t.Fatalf("answer has no column %s (it has %v)", c, a.Columns)
		}
	}
	out := make([]string, 0, len(a.Rows))
	for _, r := range a.Rows {
		var b strings.Builder
		for _, i := range idx {
			fmt.Fprintf(&b, "%v\t", r[i])
		}
		out = append(out, b.String())
	}
	slices.Sort(out)
	return out
}

// questionsOverAttempts are the questions sql/ ships over the attempt log
// (archived_dead_letters reads the dead-letter archive).
func questionsOverAttempts(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, n := range sql.Names() {
		if n == "archived_dead_letters" {
			continue
		}
		if _, err := os.Stat(filepath.Join("testdata", "reference", n+".sql")); err != nil {
			t.Errorf("sql/%s.sql has no reference over attempts alone in testdata/reference", n)
			continue
		}
		out = append(out, n)
	}
	return out
}

// sameAnswers checks every question against its reference; it returns the
// shipped answers by question.
func sameAnswers(t *testing.T, conn driver.Conn, db string, since time.Time) map[string]attemptlog.Answer {
	t.Helper()
	got := map[string]attemptlog.Answer{}
	for _, name := range questionsOverAttempts(t) {
		want := referenceAnswer(t, conn, db, name, since)
		ans, err := attemptlog.RunQuery(context.Background(), conn, db, name, map[string]any{"since": since.UTC()})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		w, g := lines(t, want, want.Columns), lines(t, ans, want.Columns)
		if len(w) == 0 {
			t.Errorf("%s: the reference answers nothing; the data set does not exercise it", name)
		}
		if !slices.Equal(w, g) {
			t.Errorf("%s: %d rows, the reference %d; first difference:\n got  %q\n want %q", name, len(g), len(w), firstDiff(g, w), firstDiff(w, g))
		}
		got[name] = ans
	}
	return got
}

func firstDiff(a, b []string) string {
	for i, s := range a {
		if i >= len(b) || s != b[i] {
			return s
		}
	}
	return ""
}

// TestQuestionsAnswerAsOverAttemptsAlone loads realistic chains in bulk
// (the analyst's INSERT … SELECT path, copies of some rows included) over
// 70 minutes, so that the hour's window cuts chains in two, adds rows by
// the exporter's path (a failure and a call inserted twice, two steps of a
// chain in the same millisecond), and compares every question with its
// reference; then a chain inserted in bulk afterwards shows in every answer
// it belongs to.
func TestQuestionsAnswerAsOverAttemptsAlone(t *testing.T) {
	conn, db := testenv.ClickHouse(t)
	ctx := context.Background()
	now := time.Now()
	if _, err := chainload.Load(ctx, conn, db, chainload.LoadConfig{Rows: 20_000, End: now.Add(-10 * time.Minute), Span: 70 * time.Minute,
		ChunkChains: 2_000, DuplicateEvery: 50}); err != nil {
		t.Fatal(err)
	}
	since := now.Add(-time.Hour)
	at := func(d time.Duration) (string, string) {
		x := now.Add(-d)
		return strconv.FormatInt(x.Unix(), 10), strconv.Itoa(x.Nanosecond() / 1e6)
	}
	row := func(id, step string, attempt, status int, errText string, ago time.Duration) attemptlog.Row {
		ts, ms := at(ago)
		return attemptlog.Row{"ts": ts, "ts_ms": ms, "event_id": id, "row_id": id + ":" + step + ":" + strconv.Itoa(attempt), "stream_id": "1-0",
			"account": "acc-x", "entity": "contact", "key": "k-" + id, "chain_id": id, "op": "upsert", "version": "1",
			"attempt": strconv.Itoa(attempt), "step": step, "http_status": strconv.Itoa(status), "latency_us": "1500", "error": errText,
			"instance": "i1", "partner": "partner", "direction": "out"}
	}
	fail := row("X1", "retry_scheduled", 1, 503, "partner answered 503 twice-inserted", 5*time.Minute)
	call := row("X1", "delivered", 2, 200, "", 4*time.Minute)
	// X2: steps of the same millisecond: the last is decided by row_id
	tie1, tie2 := row("X2", "retry_scheduled", 1, 503, "partner answered 503 Service Unavailable", 3*time.Minute), row("X2", "dead", 1, 422, "422 tie", 3*time.Minute)
	tie2["ts"], tie2["ts_ms"] = tie1["ts"], tie1["ts_ms"]
	// X3: begun before the window with more attempts than it makes inside it
	early := row("X3", "retry_scheduled", 4, 503, "partner answered 503 Service Unavailable", 0)
	early["ts"], early["ts_ms"] = strconv.FormatInt(since.Add(-30*time.Second).Unix(), 10), "0"
	inside := row("X3", "delivered", 1, 200, "", 0)
	inside["ts"], inside["ts_ms"] = strconv.FormatInt(since.Add(10*time.Second).Unix(), 10), "0"
	for _, batch := range [][]attemptlog.Row{{fail, call, tie1, tie2, early, inside}, {fail, call}} {
		if err := attemptlog.Insert(ctx, conn, db, batch); err != nil {
			t.Fatal(err)
		}
	}
	before := sameAnswers(t, conn, db, since)

	// A chain loaded in bulk afterwards, dead with an error of its own.
	ts, _ := at(2 * time.Minute)
	bulk := fmt.Sprintf("INSERT INTO `%s`.attempts (ts, ts_ms, event_id, row_id, stream_id, account, entity, key, chain_id, op, version, attempt, step, http_status, latency_us, error, instance, partner, direction) "+
		"SELECT toDateTime(%s) + number, 7, 'BULK', concat('BULK:', toString(number)), '9-0', 'acc-bulk', 'contact', 'k-bulk', 'BULK', 'upsert', 1, number + 1, "+
		"if(number = 2, 'dead', 'retry_scheduled'), 500, 77000, 'partner answered 500 bulk-only', 'i1', 'partner', 'out' FROM system.numbers LIMIT 3", db, ts)
	if err := conn.Exec(ctx, bulk); err != nil {
		t.Fatal(err)
	}
	got := sameAnswers(t, conn, db, since)
	for name, want := range map[string]string{"failed_chains": "BULK", "failed_chains_per_account": "acc-bulk", "top_errors": "bulk-only",
		"retry_distribution": "", "latency_per_minute": ""} {
		g := lines(t, got[name], got[name].Columns)
		if slices.Equal(g, lines(t, before[name], before[name].Columns)) {
			t.Errorf("%s: the answer did not change when a chain was loaded in bulk", name)
		}
		if want != "" && !slices.ContainsFunc(g, func(l string) bool { return strings.Contains(l, want) }) {
			t.Errorf("%s: the bulk-loaded chain is not in the answer (no %q)", name, want)
		}
	}
}
