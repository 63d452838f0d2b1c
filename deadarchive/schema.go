package deadarchive

import (
	"context"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Table is the archive's table name within the ClickHouse database
// (clickhouse.database): `streamsync.dead_letters` by default.
const Table = "dead_letters"

// columns of Table, in the order Insert appends them. The types work on
// ClickHouse 18.16 (no Map, JSON, DateTime64, LowCardinality) and on
// current releases.
var columns = []struct{ name, typ string }{
	{"dead_at", "DateTime"},
	{"stream", "String"},
	{"shard", "UInt16"},
	{"stream_id", "String"},
	{"event_id", "String"},
	{"account", "String"},
	{"entity", "String"},
	{"key", "String"},
	{"dead_reason", "String"},
	{"dead_error", "String"},
	{"dead_attempts", "UInt32"},
	{"field_names", "Array(String)"},
	{"field_values", "Array(String)"},
	{"archived_at", "DateTime"},
	{"instance", "String"},
}

func columnList() string {
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = "`" + c.name + "`"
	}
	return strings.Join(names, ", ")
}

// EnsureSchema creates the database and the archive table when missing.
//
// A dead letter archived twice (a crash between the insert and the trim, or
// two processes after a lost lease) has the same (stream, stream_id) and
// the same dead_at, so both copies land in one partition and collapse
// there: ReplacingMergeTree ordered by (stream, stream_id). Exact queries
// use FINAL or count DISTINCT (stream, stream_id). Partitions are months of
// dead_at, dropped by hand (ALTER TABLE … DROP PARTITION 202601) when the
// archive may forget them; nothing drops them by itself.
func EnsureSchema(ctx context.Context, conn driver.Conn, database string) error {
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+database+"`"); err != nil {
		return fmt.Errorf("create database %s: %w", database, err)
	}
	cols := make([]string, len(columns))
	for i, c := range columns {
		cols[i] = "`" + c.name + "` " + c.typ
	}
	ddl := fmt.Sprintf("CREATE TABLE IF NOT EXISTS `%s`.`%s` (\n  %s\n) ENGINE = ReplacingMergeTree\nPARTITION BY toYYYYMM(dead_at)\nORDER BY (stream, stream_id)",
		database, Table, strings.Join(cols, ",\n  "))
	if err := conn.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("create table %s.%s: %w", database, Table, err)
	}
	return nil
}
