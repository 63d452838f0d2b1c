package attemptlog

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ChainEndsTable holds, after ClickHouse's background merges, one row per
// chain and day: the chain's latest step of that day. A materialized view
// (ChainEndsView) fills it from every row inserted into attempts, bulk loads
// included, so the failed-chains questions (sql/failed_chains.sql, Chains)
// find the chains whose last step is a failure or a wait among a few rows
// per chain instead of every row of the window, then read only those
// chains' rows from attempts by its sort key.
//
// It is an index, not a record: ReplacingMergeTree(ver) keeps the row with
// the highest ver per (partner, account, chain_id) and day once parts merge,
// and until then holds older rows too. ver orders by (ts, ts_ms) and, on a
// tie, puts a failure or wait step above the others, so the chain's true
// last step (argMax(step, (ts, ts_ms, row_id)) over attempts) is never
// replaced by another row of the same millisecond. The questions take its
// rows as candidates only and decide from attempts' rows, so merges that
// have not happened yet cost time, never a wrong answer.
const (
	ChainEndsTable = "chain_ends"
	ChainEndsView  = "chain_ends_mv"
	// chainEndsFilled is an empty marker table created once the rows that
	// attempts held when the view was made have been copied into
	// chain_ends (migrateChainEnds).
	chainEndsFilled = "chain_ends_filled"
)

// chainEndsSteps are the steps that can be a failed or stuck chain's last:
// dead and invalid (failed), the waits (stuck when old).
const chainEndsSteps = "('dead', 'invalid', 'parked', 'released', 'retry_scheduled', 'prepared', 'confirmed')"

// chainEndsSelect is what the view and the migration insert into
// chain_ends from attempts rows (%s: a WHERE clause or nothing): one row
// per chain of each inserted block, its latest step in that block, so a
// bulk load, whose chains' rows come together, adds about one row per
// chain before any merge.
const chainEndsSelect = "SELECT partner, account, chain_id, argMax(ts, " + chainEndsVer + ") AS last_ts, argMax(step, " + chainEndsVer + ") AS last_step, max(" + chainEndsVer + ") AS ver\nFROM `%s`.`%s`%s\nGROUP BY partner, account, chain_id"

// chainEndsVer orders a chain's rows: by (ts, ts_ms), a failure or wait
// above another step of the same millisecond. Written out in each aggregate
// because 18.16 cannot push a view's block through a subquery.
const chainEndsVer = "((toUInt64(ts) * 1000 + ts_ms) * 2 + (step IN " + chainEndsSteps + "))"

// ensureChainEnds creates chain_ends and its view when missing, and fills
// chain_ends from the rows attempts already holds (an attempts table from
// before the view), one day partition after the other, an hour per
// INSERT … SELECT. The view is made before the copy, so rows inserted
// meanwhile reach chain_ends through it;
// a row both copied and seen by the view is there twice, which the
// ReplacingMergeTree and the questions' re-reading of attempts absorb. The
// marker table is made last: a process stopped mid-copy copies again at its
// next start. Not POPULATE, which misses rows inserted while it runs.
func ensureChainEnds(ctx context.Context, conn driver.Conn, database string) error {
	target := fmt.Sprintf("CREATE TABLE IF NOT EXISTS `%s`.`%s` (\n  partner String,\n  account String,\n  chain_id String,\n  last_ts DateTime('UTC'),\n  last_step String,\n  ver UInt64\n) ENGINE = ReplacingMergeTree(ver)\nPARTITION BY toYYYYMMDD(last_ts)\nORDER BY (partner, account, chain_id)",
		database, ChainEndsTable)
	if err := conn.Exec(ctx, target); err != nil {
		return fmt.Errorf("create table %s.%s: %w", database, ChainEndsTable, err)
	}
	view := fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS `%s`.`%s` TO `%s`.`%s` AS\n%s",
		database, ChainEndsView, database, ChainEndsTable, fmt.Sprintf(chainEndsSelect, database, Table, ""))
	if err := conn.Exec(ctx, view); err != nil {
		return fmt.Errorf("create view %s.%s: %w", database, ChainEndsView, err)
	}
	filled, err := tableExists(ctx, conn, database, chainEndsFilled)
	if err != nil || filled {
		return err
	}
	days, err := partitionIDs(ctx, conn, database, Table)
	if err != nil {
		return err
	}
	for _, day := range days {
		if _, ok := partitionDay(day); !ok {
			return fmt.Errorf("fill %s.%s: partition %q of %s is not a day (YYYYMMDD)", database, ChainEndsTable, day, Table)
		}
		// An hour a statement: the GROUP BY holds one hour's chains, not a
		// day's (a chain across two hours gets a row in each, as across two
		// inserted blocks).
		for hour := 0; hour < 24; hour++ {
			where := fmt.Sprintf(" WHERE toYYYYMMDD(ts) = %s AND toHour(ts) = %d", day, hour)
			q := fmt.Sprintf("INSERT INTO `%s`.`%s` (partner, account, chain_id, last_ts, last_step, ver)\n%s",
				database, ChainEndsTable, fmt.Sprintf(chainEndsSelect, database, Table, where))
			if err := conn.Exec(ctx, q); err != nil {
				return fmt.Errorf("fill %s.%s from day %s hour %d: %w", database, ChainEndsTable, day, hour, err)
			}
		}
	}
	marker := fmt.Sprintf("CREATE TABLE IF NOT EXISTS `%s`.`%s` (filled DateTime('UTC')) ENGINE = TinyLog", database, chainEndsFilled)
	if err := conn.Exec(ctx, marker); err != nil {
		return fmt.Errorf("create table %s.%s: %w", database, chainEndsFilled, err)
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
