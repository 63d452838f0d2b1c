package chainload

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// Question is one timed question: what the CLI command runs, through the
// same function the command calls.
type Question struct {
	// Name is the command as an operator types it.
	Name string
	// Ask runs it with the window starting at since and returns how many
	// rows it answered.
	Ask func(ctx context.Context, conn driver.Conn, database string, since time.Time) (int, error)
	// Prepare, when set, runs before Ask and is not timed (it picks what
	// Ask asks about).
	Prepare func(ctx context.Context, conn driver.Conn, database string) error
}

// sqlQuestion is `streamsync sql NAME --since 1h`: attemptlog.RunQuery with
// since bound, as the command binds a --since it is given.
func sqlQuestion(name string) Question {
	return Question{Name: "`streamsync sql " + name + " --since 1h`", Ask: func(ctx context.Context, conn driver.Conn, db string, since time.Time) (int, error) {
		ans, err := attemptlog.RunQuery(ctx, conn, db, name, map[string]any{"since": since.UTC()})
		return len(ans.Rows), err
	}}
}

// Questions are the questions of the failed-chains benchmark, in the order
// they run; the bare scan last.
var Questions = []Question{
	sqlQuestion("failed_chains"),
	{Name: "`streamsync chains --since 1h`", Ask: func(ctx context.Context, conn driver.Conn, db string, since time.Time) (int, error) {
		chains, _, err := attemptlog.Chains(ctx, conn, db, attemptlog.ChainFilter{Since: since, Stuck: 5 * time.Minute})
		return len(chains), err
	}},
	sqlQuestion("retry_distribution"),
	sqlQuestion("dead_children"),
	sqlQuestion("top_errors"),
	sqlQuestion("latency_per_minute"),
	sqlQuestion("failed_chains_per_account"),
	familyQuestion(),
	{Name: "a bare scan: `SELECT count() FROM attempts WHERE ts >= now() - 3600`", Ask: func(ctx context.Context, conn driver.Conn, db string, _ time.Time) (int, error) {
		var n uint64
		err := conn.QueryRow(ctx, "SELECT count() FROM `"+db+"`.`"+attemptlog.Table+"` WHERE ts >= now() - 3600").Scan(&n)
		return int(n), err
	}},
}

// familyQuestion is `streamsync chains --id ID`: attemptlog.FindFamily of a
// dead parent whose children were dead-lettered for it, picked untimed.
func familyQuestion() Question {
	var id string
	return Question{Name: "`streamsync chains --id ID` (a dead parent and its children)",
		Prepare: func(ctx context.Context, conn driver.Conn, db string) error {
			q := "SELECT parent_id FROM (SELECT extract(error, 'event ([0-9a-z_-]+)') AS parent_id FROM `" + db + "`.attempts " +
				"WHERE step = 'dead' AND parent_key != '' AND error LIKE 'parent %' LIMIT 1)"
			if err := conn.QueryRow(ctx, q).Scan(&id); err != nil {
				return fmt.Errorf("pick a dead parent: %w", err)
			}
			return nil
		},
		Ask: func(ctx context.Context, conn driver.Conn, db string, _ time.Time) (int, error) {
			fams, err := attemptlog.FindFamily(ctx, conn, db, id, "")
			n := 0
			for _, f := range fams {
				n += len(f.Timeline)
			}
			return n, err
		}}
}

// Timing is one question's answer.
type Timing struct {
	Question string
	Took     time.Duration
	Rows     int
	Err      error
}

// Measure asks every question once over the hour before now, in order,
// and returns each one's wall time and rows; a question that fails is
// recorded with its error and the others still run.
func Measure(ctx context.Context, conn driver.Conn, database string) []Timing {
	out := make([]Timing, 0, len(Questions))
	for _, q := range Questions {
		if q.Prepare != nil {
			if err := q.Prepare(ctx, conn, database); err != nil {
				out = append(out, Timing{Question: q.Name, Err: err})
				continue
			}
		}
		t := time.Now()
		n, err := q.Ask(ctx, conn, database, t.Add(-time.Hour))
		out = append(out, Timing{Question: q.Name, Took: time.Since(t), Rows: n, Err: err})
	}
	return out
}

// WriteTable prints timings as a markdown table: question | time | rows
// answered.
func WriteTable(w io.Writer, ts []Timing) {
	fmt.Fprintln(w, "| question | time | rows answered |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, t := range ts {
		rows := fmt.Sprint(t.Rows)
		if t.Err != nil {
			rows = "error: " + t.Err.Error()
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", t.Question, Seconds(t.Took), rows)
	}
}

// Seconds formats d as seconds with two decimals ("0.17 s").
func Seconds(d time.Duration) string {
	return fmt.Sprintf("%.2f s", d.Seconds())
}
