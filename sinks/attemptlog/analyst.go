package attemptlog

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/streamsync/streamsync/sql"
)

// Answer is what of an analyst query: column names and rows of values
// as the driver scans them (time.Time, uint64, string, slices…).
type Answer struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
}

// RunQuery runs sql/<name>.sql against database. values binds parameters
// by name on the client side (since: a time.Time; stuck_seconds: uint32;
// account, partner: string); a parameter not in values keeps the file's
// inline default. A value for a parameter the query does not take is an
// error naming the ones it does take, a partner that is not a partner name
// one naming the form.
func RunQuery(ctx context.Context, conn driver.Conn, database, name string, values map[string]any) (Answer, error) {
	if p, ok := values["partner"].(string); ok && p != "" {
		if err := CheckPartner(p); err != nil {
			return Answer{}, err
		}
	}
	q, params, err := sql.Parameterized(name, database, func(p string) bool { _, ok := values[p]; return ok })
	if err != nil {
		return Answer{}, err
	}
	var args []any
	for k, v := range values {
		found := false
		for _, p := range params {
			found = found || (p.Name == k && !isInternalParam(k))
		}
		if !found {
			var takes []string
			for _, p := range params {
				if !isInternalParam(p.Name) {
					takes = append(takes, p.Name)
				}
			}
			return Answer{}, fmt.Errorf("query %s takes no %s (it takes %v)", name, k, takes)
		}
		args = append(args, clickhouse.Named(k, v))
	}
	if slices.ContainsFunc(params, func(p sql.Param) bool { return p.Name == sealedUntilParam }) {
		// latency_per_minute: the answered minutes end where SealedUntil says.
		until, err := SealedUntil(ctx, conn, database, values)
		if err != nil {
			return Answer{}, err
		}
		q, _, err = sql.Parameterized(name, database, func(p string) bool { _, ok := values[p]; return ok || p == sealedUntilParam })
		if err != nil {
			return Answer{}, err
		}
		return answer(ctx, conn, name, q, append(args, clickhouse.Named(sealedUntilParam, until)))
	}
	if !slices.ContainsFunc(params, func(p sql.Param) bool { return isCandidateParam(p.Name) }) {
		return answer(ctx, conn, name, q, args)
	}
	// A question with candidate sets (failed_chains): narrowed to the most
	// recent candidates (candidates.go).
	narrowed, _, err := sql.Parameterized(name, database, func(p string) bool { _, ok := values[p]; return ok || isCandidateParam(p) })
	if err != nil {
		return Answer{}, err
	}
	var t Answer
	err = narrowCandidates(ctx, conn, database, values, failedChainsPage, func(sets []any) (int, time.Time, error) {
		t, err = answer(ctx, conn, name, narrowed, append(append([]any{}, args...), sets...))
		if err != nil {
			return 0, time.Time{}, err
		}
		return len(t.Rows), rowTime(t, failedChainsPage-1), nil
	}, func() error {
		t, err = answer(ctx, conn, name, q, args)
		return err
	})
	return t, err
}

// isInternalParam reports whether name is a parameter RunQuery binds itself
// (failed_chains' candidate sets, latency_per_minute's sealed_until).
func isInternalParam(name string) bool { return isCandidateParam(name) || name == sealedUntilParam }

// failedChainsPage is the most chains sql/failed_chains.sql answers (its
// closing LIMIT).
const failedChainsPage = 1000

// rowTime is the last_ts of t's row i, zero when there is none.
func rowTime(t Answer, i int) time.Time {
	col := slices.Index(t.Columns, "last_ts")
	if col < 0 || i >= len(t.Rows) {
		return time.Time{}
	}
	ts, _ := t.Rows[i][col].(time.Time)
	return ts
}

// answer runs q with args and reads every row as the driver scans it.
func answer(ctx context.Context, conn driver.Conn, name, q string, args []any) (Answer, error) {
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return Answer{}, fmt.Errorf("query %s: %w", name, err)
	}
	defer rows.Close()
	t := Answer{Columns: rows.Columns(), Rows: [][]any{}}
	types := rows.ColumnTypes()
	for rows.Next() {
		dest := make([]any, len(types))
		for i, c := range types {
			dest[i] = reflect.New(c.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return Answer{}, fmt.Errorf("query %s: %w", name, err)
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			row[i] = reflect.ValueOf(d).Elem().Interface()
		}
		t.Rows = append(t.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return Answer{}, fmt.Errorf("query %s: %w", name, err)
	}
	return t, nil
}
