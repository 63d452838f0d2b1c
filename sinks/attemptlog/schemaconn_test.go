package attemptlog

import (
	"context"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/streamsync/streamsync/internal/testenv"
)

// schemaConn is a test's own database on the project's ClickHouse with the
// attempt log's tables made (EnsureSchema); it skips the test under -short.
func schemaConn(t *testing.T) (driver.Conn, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs ClickHouse")
	}
	conn, db := testenv.ClickHouse(t)
	if err := EnsureSchema(context.Background(), conn, db); err != nil {
		t.Fatal(err)
	}
	return conn, db
}
