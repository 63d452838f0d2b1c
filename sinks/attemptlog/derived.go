package attemptlog

import (
	"context"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Derived is a table ClickHouse keeps from the attempts table by a
// materialized view: every row inserted into attempts — by an exporter, a
// spool replay or an analyst's bulk load — reaches it in the same INSERT.
// Each is partitioned by day (toYYYYMMDD of a UTC DateTime column), so
// retention drops its old days with attempts' (Retainer), and is an index
// over attempts, never a record of its own: it may hold a row twice until
// a merge, so questions over it count distinct row_ids or re-read attempts.
type Derived struct {
	// Table is the derived table's name; View the materialized view's.
	Table, View string
	// Body is what follows the table's name in its CREATE TABLE: the
	// columns, engine, PARTITION BY and ORDER BY.
	Body string
	// Select is the view's SELECT from the source table src of database
	// db; where, " WHERE …" or "", narrows it when an older table's rows
	// are copied in, an hour at a time. nil for a table no view fills
	// (latency_minutes: the Sealer writes it).
	Select func(db, src, where string) string
}

// DerivedTables are the tables kept from attempts, in the order they are
// made. The question each serves is in its table's docstring.
var DerivedTables = []Derived{chainEnds, chainWaits, failures, calls, chainMinutes, chainIndex, chainChildren, callsPerMinute, latencyMinutes}

// DerivedNames are the names of DerivedTables' tables.
func DerivedNames() []string {
	out := make([]string, len(DerivedTables))
	for i, d := range DerivedTables {
		out[i] = d.Table
	}
	return out
}

// ensureDerived creates each derived table and its view when missing, and
// fills the table from the rows attempts already holds (an attempts table
// from before it), one day partition after the other, an hour per
// INSERT … SELECT. The view is made before the copy, so rows inserted
// meanwhile reach the table through it; a row both copied and seen by the
// view is there twice, which the tables' engines and the questions'
// distinct counts absorb. A marker table (<table>_filled) is made last: a
// process stopped mid-copy copies again at its next start. Not POPULATE,
// which misses rows inserted while it runs.
func ensureDerived(ctx context.Context, conn driver.Conn, database string) error {
	if err := dropRetired(ctx, conn, database, ""); err != nil {
		return err
	}
	for _, d := range DerivedTables {
		if err := ensureOneDerived(ctx, conn, database, Table, d.Table, d); err != nil {
			return err
		}
	}
	return nil
}

// ensureOneDerived makes d as table (d.Table, or a shard's local table of
// it), its view reading src (attempts, or a shard's attempts_local).
func ensureOneDerived(ctx context.Context, conn driver.Conn, database, src, table string, d Derived) error {
	target := fmt.Sprintf("CREATE TABLE IF NOT EXISTS `%s`.`%s` %s", database, table, d.Body)
	if err := conn.Exec(ctx, target); err != nil {
		return fmt.Errorf("create table %s.%s: %w", database, table, err)
	}
	if d.Select == nil {
		return nil
	}
	view := fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS `%s`.`%s` TO `%s`.`%s` AS\n%s",
		database, d.View, database, table, d.Select(database, src, ""))
	if err := conn.Exec(ctx, view); err != nil {
		return fmt.Errorf("create view %s.%s: %w", database, d.View, err)
	}
	marker := table + "_filled"
	filled, err := tableExists(ctx, conn, database, marker)
	if err != nil || filled {
		return err
	}
	days, err := partitionIDs(ctx, conn, database, src)
	if err != nil {
		return err
	}
	for _, day := range days {
		if _, ok := partitionDay(day); !ok {
			return fmt.Errorf("fill %s.%s: partition %q of %s is not a day (YYYYMMDD)", database, table, day, src)
		}
		// An hour a statement: a GROUP BY holds one hour's rows, not a day's.
		for hour := 0; hour < 24; hour++ {
			where := fmt.Sprintf(" WHERE toYYYYMMDD(ts) = %s AND toHour(ts) = %d", day, hour)
			q := fmt.Sprintf("INSERT INTO `%s`.`%s`\n%s", database, table, d.Select(database, src, where))
			if err := conn.Exec(ctx, q); err != nil {
				return fmt.Errorf("fill %s.%s from day %s hour %d: %w", database, table, day, hour, err)
			}
		}
	}
	mk := fmt.Sprintf("CREATE TABLE IF NOT EXISTS `%s`.`%s` (filled DateTime('UTC')) ENGINE = TinyLog", database, marker)
	if err := conn.Exec(ctx, mk); err != nil {
		return fmt.Errorf("create table %s.%s: %w", database, marker, err)
	}
	return nil
}

func tableExists(ctx context.Context, conn driver.Conn, database, table string) (bool, error) {
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", database, table).Scan(&n); err != nil {
		return false, fmt.Errorf("look for %s.%s: %w", database, table, err)
	}
	return n > 0, nil
}

// dropRetired drops retiredDerived's views, tables (suffix: "" or a
// shard's LocalSuffix) and fill markers where they exist; under
// clickhouse.cluster also the Distributed table of each. The view goes
// first, so the table stops costing inserts; a table larger than the
// server's max_table_size_to_drop (50 GB by default), which ClickHouse
// refuses to drop, is left for its operator (docs/operations.md).
func dropRetired(ctx context.Context, conn driver.Conn, database, suffix string) error {
	for _, d := range retiredDerived {
		names := []string{d.View, d.Table + suffix, d.Table + suffix + "_filled"}
		if suffix != "" {
			names = append(names, d.Table)
		}
		for _, t := range names {
			err := conn.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS `%s`.`%s`", database, t))
			if err != nil && strings.Contains(err.Error(), "max_table_size_to_drop") {
				continue
			}
			if err != nil {
				return fmt.Errorf("drop the retired %s.%s: %w", database, t, err)
			}
		}
	}
	return nil
}
