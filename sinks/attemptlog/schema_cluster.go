package attemptlog

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// SingleTable is where a server's attempts table of one server is kept when
// the attempt log grows into a cluster: its rows are copied onto the
// shards, a day at a time, and it stays until the operator drops it
// (docs/operations.md, "Growing past one ClickHouse"). SingleCopiedTable
// lists the days copied so far.
const (
	SingleTable       = "attempts_single"
	SingleCopiedTable = "attempts_single_copied"
)

// ensureCluster is EnsureSchemaWith over o.Cluster. On every server of the
// cluster (and on conn's own when it is not one of them) it makes, each
// when missing: attempts_local (the ReplacingMergeTree attempts is on one
// server), each derived table as <table>_local with its view reading
// attempts_local, and Distributed tables named attempts and <table>
// sharded by ShardKey. A server whose attempts is still a table of one
// server first has it set aside as attempts_single (the derived tables and
// views reading it by name dropped: the copy fills their local tables
// again); once every server has its tables, each attempts_single is copied
// through the Distributed attempts, one day partition per INSERT … SELECT,
// so that every row lands on its account's shard and the views see it. A
// day is recorded in attempts_single_copied after its copy: a process
// stopped mid-copy copies that day again at its next start, the copies
// collapsing on row_id as a retried export's do.
func ensureCluster(ctx context.Context, conn driver.Conn, database string, o SchemaOptions) error {
	c := o.Cluster
	if err := CheckCluster(c.Name); err != nil {
		return err
	}
	if c.Dial == nil {
		return fmt.Errorf("clickhouse.cluster %s: no way to connect to its servers", c.Name)
	}
	local := Table + LocalSuffix
	err := forEachHost(ctx, conn, c, func(_ string, hc driver.Conn) error {
		if err := hc.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+database+"`"); err != nil {
			return fmt.Errorf("create database %s: %w", database, err)
		}
		modern, err := modernServer(hc)
		if err != nil {
			return err
		}
		if err := setAsideSingle(ctx, hc, database, modern, o); err != nil {
			return err
		}
		if err := ensureAttempts(ctx, hc, database, local, modern, o); err != nil {
			return err
		}
		if err := dropRetired(ctx, hc, database, LocalSuffix); err != nil {
			return err
		}
		for _, d := range DerivedTables {
			if err := ensureOneDerived(ctx, hc, database, local, d.Table+LocalSuffix, d); err != nil {
				return err
			}
		}
		if err := ensureDistributed(ctx, hc, database, c.Name, Table, ShardKey); err != nil {
			return err
		}
		// A column added to attempts_local since the Distributed table was made.
		if err := addColumns(ctx, hc, database, Table, modern, o); err != nil {
			return err
		}
		for _, d := range DerivedTables {
			// read only: the views fill each shard's local table from its
			// own attempts_local, so no sharding key is needed (a derived
			// table may have no account column)
			// A table the Sealer writes takes its rows through the
			// Distributed one, to any shard.
			key := ""
			if d.Select == nil {
				key = "rand()"
			}
			if err := ensureDistributed(ctx, hc, database, c.Name, d.Table, key); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return forEachHost(ctx, conn, c, func(_ string, hc driver.Conn) error {
		return copySingle(ctx, hc, database)
	})
}

// ensureDistributed makes table a Distributed table over the shards'
// <table>_local, rows inserted into it sent to a shard by key ("": a table
// only read through it). A table of that name that is not Distributed is
// an error.
func ensureDistributed(ctx context.Context, conn driver.Conn, database, cluster, table, key string) error {
	engine, err := tableEngine(ctx, conn, database, table)
	if err != nil {
		return err
	}
	switch engine {
	case "Distributed":
		return nil
	case "":
	default:
		return fmt.Errorf("%s.%s is a %s table where clickhouse.cluster needs a Distributed one; see docs/operations.md, \"Growing past one ClickHouse\"", database, table, engine)
	}
	if key != "" {
		key = ", " + key
	}
	q := fmt.Sprintf("CREATE TABLE IF NOT EXISTS `%[1]s`.`%[2]s` AS `%[1]s`.`%[2]s%[3]s` ENGINE = Distributed(`%[4]s`, `%[1]s`, `%[2]s%[3]s`%[5]s)",
		database, table, LocalSuffix, cluster, key)
	if err := conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("create table %s.%s: %w", database, table, err)
	}
	return nil
}

// setAsideSingle renames a server's attempts table of one server to
// attempts_single, after adding the columns it lacks (the copy reads them
// all) and dropping the derived tables and views that read it by name.
func setAsideSingle(ctx context.Context, conn driver.Conn, database string, modern bool, o SchemaOptions) error {
	engine, err := tableEngine(ctx, conn, database, Table)
	if err != nil || engine == "" || engine == "Distributed" {
		return err
	}
	if single, err := tableEngine(ctx, conn, database, SingleTable); err != nil {
		return err
	} else if single != "" {
		return fmt.Errorf("%s.%s is a table of one server, and %s.%s exists already: rename or drop one of them (docs/operations.md, \"Growing past one ClickHouse\")",
			database, Table, database, SingleTable)
	}
	if err := addColumns(ctx, conn, database, Table, modern, o); err != nil {
		return err
	}
	for _, d := range append(slices.Clone(DerivedTables), retiredDerived...) {
		for _, t := range []string{d.View, d.Table, d.Table + "_filled"} {
			if t == "" { // a table no view fills
				continue
			}
			if err := conn.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS `%s`.`%s`", database, t)); err != nil {
				return fmt.Errorf("drop %s.%s: %w", database, t, err)
			}
		}
	}
	if err := conn.Exec(ctx, fmt.Sprintf("RENAME TABLE `%[1]s`.`%[2]s` TO `%[1]s`.`%[3]s`", database, Table, SingleTable)); err != nil {
		// Another process starting at once may have renamed it first.
		if now, err2 := tableEngine(ctx, conn, database, Table); err2 == nil && now == "" {
			return nil
		}
		return fmt.Errorf("set %s.%s aside as %s: %w", database, Table, SingleTable, err)
	}
	return nil
}

// copySingle copies the days of attempts_single not yet copied through the
// Distributed attempts, oldest first.
func copySingle(ctx context.Context, conn driver.Conn, database string) error {
	if engine, err := tableEngine(ctx, conn, database, SingleTable); err != nil || engine == "" {
		return err
	}
	mk := fmt.Sprintf("CREATE TABLE IF NOT EXISTS `%s`.`%s` (day UInt32) ENGINE = TinyLog", database, SingleCopiedTable)
	if err := conn.Exec(ctx, mk); err != nil {
		return fmt.Errorf("create table %s.%s: %w", database, SingleCopiedTable, err)
	}
	done := map[string]bool{}
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT toString(day) FROM `%s`.`%s`", database, SingleCopiedTable))
	if err != nil {
		return fmt.Errorf("read %s.%s: %w", database, SingleCopiedTable, err)
	}
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return fmt.Errorf("read %s.%s: %w", database, SingleCopiedTable, err)
		}
		done[d] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s.%s: %w", database, SingleCopiedTable, err)
	}
	days, err := partitionIDs(ctx, conn, database, SingleTable)
	if err != nil {
		return err
	}
	names := make([]string, len(Columns))
	for i, c := range Columns {
		names[i] = "`" + c.Name + "`"
	}
	cols := strings.Join(names, ", ")
	// The Distributed insert returns once every shard has its rows.
	sctx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings(clusterSettings)))
	for _, day := range sortedDays(days) {
		if done[day] {
			continue
		}
		if _, ok := partitionDay(day); !ok {
			return fmt.Errorf("copy %s.%s: partition %q is not a day (YYYYMMDD)", database, SingleTable, day)
		}
		q := fmt.Sprintf("INSERT INTO `%[1]s`.`%[2]s` (%[3]s) SELECT %[3]s FROM `%[1]s`.`%[4]s` WHERE toYYYYMMDD(ts) = %[5]s",
			database, Table, cols, SingleTable, day)
		if err := conn.Exec(sctx, q); err != nil {
			return fmt.Errorf("copy day %s of %s.%s onto the shards: %w", day, database, SingleTable, err)
		}
		if err := conn.Exec(ctx, fmt.Sprintf("INSERT INTO `%s`.`%s` SELECT toUInt32(%s)", database, SingleCopiedTable, day)); err != nil {
			return fmt.Errorf("record day %s copied: %w", day, err)
		}
	}
	return nil
}

// tableEngine is a table's engine, "" when there is no such table.
func tableEngine(ctx context.Context, conn driver.Conn, database, table string) (string, error) {
	rows, err := conn.Query(ctx, "SELECT engine FROM system.tables WHERE database = ? AND name = ?", database, table)
	if err != nil {
		return "", fmt.Errorf("look for %s.%s: %w", database, table, err)
	}
	defer rows.Close()
	engine := ""
	for rows.Next() {
		if err := rows.Scan(&engine); err != nil {
			return "", fmt.Errorf("look for %s.%s: %w", database, table, err)
		}
	}
	return engine, rows.Err()
}

func sortedDays(days []string) []string {
	out := slices.Clone(days)
	slices.Sort(out)
	return out
}
