package attemptlog

import "fmt"

// ChainWaitsTable holds chain_ends' failing and waiting rows only (a
// chain's latest step of an inserted block, when that step is dead,
// invalid or a wait), sorted by time: the failed-chains questions find the
// most recent candidates by reading the end of the window instead of every
// chain's row in chain_ends, whose sort key is the chain (1.1 s → 0.04 s over
// 100,000,000 attempt rows, docs/benchmarks.md). A materialized view
// (ChainWaitsView) fills it from every row inserted into attempts, as
// chain_ends'.
//
// It is an index, not a record, and never forgets a row a later step
// superseded (a retry_scheduled followed by delivered in a later block):
// the questions take its rows as candidates and decide each chain from its
// rows in attempts, so a superseded row costs a chain read, never a wrong
// answer.
const (
	ChainWaitsTable = "chain_waits"
	ChainWaitsView  = "chain_waits_mv"
)

// chainWaits is chain_waits among DerivedTables.
var chainWaits = Derived{
	Table: ChainWaitsTable,
	View:  ChainWaitsView,
	Body:  "(\n  partner String,\n  account String,\n  chain_id String,\n  last_ts DateTime('UTC'),\n  last_step String,\n  ver UInt64,\n  entity String,\n  key String\n) ENGINE = ReplacingMergeTree(ver)\nPARTITION BY toYYYYMMDD(last_ts)\nORDER BY (last_ts, partner, account, chain_id)",
	Select: func(db, src, where string) string {
		return fmt.Sprintf(chainEndsSelect+"\nHAVING last_step IN "+chainEndsSteps, db, src, where)
	},
}
