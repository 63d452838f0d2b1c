package attemptlog

import (
	"context"
	"fmt"
	"reflect"

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
			found = found || p.Name == k
		}
		if !found {
			var takes []string
			for _, p := range params {
				takes = append(takes, p.Name)
			}
			return Answer{}, fmt.Errorf("query %s takes no %s (it takes %v)", name, k, takes)
		}
		args = append(args, clickhouse.Named(k, v))
	}
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
