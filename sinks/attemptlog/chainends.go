package attemptlog

import "fmt"

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
)

// chainEndsSteps are the steps that can be a failed or stuck chain's last:
// dead and invalid (failed), the waits (stuck when old).
const chainEndsSteps = "('dead', 'invalid', 'parked', 'released', 'retry_scheduled', 'prepared', 'confirmed')"

// chainEndsSelect is what the view and the migration insert into
// chain_ends from attempts rows (the last %s: a WHERE clause or nothing): one row
// per chain of each inserted block, its latest step in that block, so a
// bulk load, whose chains' rows come together, adds about one row per
// chain before any merge.
const chainEndsSelect = "SELECT partner, account, chain_id, argMax(ts, " + chainEndsVer + ") AS last_ts, argMax(step, " + chainEndsVer + ") AS last_step, max(" + chainEndsVer + ") AS ver, any(entity) AS entity, any(key) AS key\nFROM `%s`.`%s`%s\nGROUP BY partner, account, chain_id"

// chainEndsVer orders a chain's rows: by (ts, ts_ms), a failure or wait
// above another step of the same millisecond. Written out in each aggregate
// because 18.16 cannot push a view's block through a subquery.
const chainEndsVer = "((toUInt64(ts) * 1000 + ts_ms) * 2 + (step IN " + chainEndsSteps + "))"

// chainEnds is chain_ends among DerivedTables.
var chainEnds = Derived{
	Table: ChainEndsTable,
	View:  ChainEndsView,
	Body:  "(\n  partner String,\n  account String,\n  chain_id String,\n  last_ts DateTime('UTC'),\n  last_step String,\n  ver UInt64,\n  entity String,\n  key String\n) ENGINE = ReplacingMergeTree(ver)\nPARTITION BY toYYYYMMDD(last_ts)\nORDER BY (partner, account, chain_id)",
	Select: func(db, src, where string) string {
		return fmt.Sprintf(chainEndsSelect, db, src, where)
	},
}
