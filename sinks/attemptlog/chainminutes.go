package attemptlog

import "fmt"

// ChainMinutesTable holds per chain and minute what
// sql/retry_distribution.sql needs — the chain's latest step in that minute
// and its highest attempt — as two max states over numbers, which
// ClickHouse merges in the background: one row per chain, minute and
// inserted block before a merge, one per chain and minute after. A chain
// is chain_hash, cityHash64(partner, chain_id), one number to group by
// (a chain is one partner's); partner_hash (cityHash64(partner)) names
// its partner. A window takes its whole minutes from here and its first,
// partial minute from attempts. max does not change when a row is counted
// twice, so copies of a row (same row_id) change no answer.
//
// The latest step is max(chainStepOrder): the row's time in ms, then a
// tie-break of 19 bits of cityHash64(row_id) (two steps of one chain in
// the same millisecond: the question over attempts broke that tie by
// row_id's text), then the step's class in the low 3 bits (chainStepClass).
// Grouping 3.2 million chains by one number with two numeric states is
// 2.3–2.7 times as fast as the former argMax states over (ts, ts_ms,
// row_id) (docs/benchmarks.md).
const (
	ChainMinutesTable = "chain_minutes"
	ChainMinutesView  = "chain_minutes_mv"
)

// chainStepClass is a step's class as retry_distribution counts it: 1
// delivered, 2 dead, 3 skipped_*, 4 a wait (the chain has not ended), 0
// any other (invalid, cancelled…: counted among the chains, in no column).
const chainStepClass = "multiIf(step = 'delivered', 1, step = 'dead', 2, step LIKE 'skipped_%', 3, " +
	"step IN ('parked', 'released', 'retry_scheduled', 'replayed', 'prepared', 'confirmed'), 4, 0)"

// chainStepOrder orders a chain's rows as one UInt64: bits 63–22 the time
// in ms since the epoch (fits until 2109; past 2^63 from 2039, so never read
// it as Int64), bits 21–3 cityHash64(row_id) mod 2^19, bits 2–0 the class.
const chainStepOrder = "bitShiftLeft(bitShiftLeft(toUInt64(ts) * 1000 + ts_ms, 19) + cityHash64(row_id) % 524288, 3) + " + chainStepClass

var chainMinutes = Derived{
	Table: ChainMinutesTable,
	View:  ChainMinutesView,
	Body: `(
  minute DateTime('UTC'),
  partner String,
  partner_hash UInt64,
  chain_hash UInt64,
  last AggregateFunction(max, UInt64),
  attempts AggregateFunction(max, UInt16)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(minute)
ORDER BY (minute, partner, chain_hash)`,
	Select: func(db, src, where string) string {
		return fmt.Sprintf("SELECT toStartOfMinute(ts) AS minute, partner, cityHash64(partner) AS partner_hash, cityHash64(partner, chain_id) AS chain_hash, "+
			"maxState(%s) AS last, maxState(attempt) AS attempts\nFROM `%s`.`%s`%s\nGROUP BY minute, partner, partner_hash, chain_hash", chainStepOrder, db, src, where)
	},
}

// retiredDerived are tables a former release derived from attempts and
// this one no longer reads: ensureDerived drops each with its view and fill
// marker (chain_stats: its argMax states over a String tuple merged 2.3–2.7
// times as slowly as chain_minutes' numbers).
var retiredDerived = []Derived{{Table: "chain_stats", View: "chain_stats_mv"}}
