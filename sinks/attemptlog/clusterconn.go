package attemptlog

import (
	"context"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// productMode is what every SELECT on a sharded attempt log's connection
// ends with: a subquery over a Distributed table (an IN or a JOIN) inside
// a query the shards run reads the shard's own local table, where every
// row of the account it needs lies (cluster.go). It is a clause of the
// query and not a setting of the connection because 18.16's protocol
// carries only numeric settings from this driver.
const productMode = "\nSETTINGS distributed_product_mode = 'local'"

// clusterConn is a connection of a sharded attempt log (Options.Cluster):
// its SELECTs end with productMode; the rest is the driver's.
type clusterConn struct{ driver.Conn }

func (c clusterConn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	return c.Conn.Query(ctx, withProductMode(query), args...)
}

func (c clusterConn) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	return c.Conn.QueryRow(ctx, withProductMode(query), args...)
}

func (c clusterConn) Select(ctx context.Context, dest any, query string, args ...any) error {
	return c.Conn.Select(ctx, dest, withProductMode(query), args...)
}

// withProductMode appends productMode to a SELECT (after any opening
// comment lines, as sql/*.sql have) that names no SETTINGS of its own; its
// trailing semicolon is dropped, and a last line that is a comment ends
// before the clause's newline.
func withProductMode(q string) string {
	body := strings.TrimRight(strings.TrimSpace(q), ";")
	head := body
	for strings.HasPrefix(head, "--") {
		_, rest, _ := strings.Cut(head, "\n")
		head = strings.TrimSpace(rest)
	}
	head = strings.ToUpper(head)
	if !strings.HasPrefix(head, "SELECT") || strings.Contains(head, "SETTINGS") {
		return q
	}
	return body + productMode
}
