package attemptlog

import "fmt"

// ChainStatsTable holds per chain (partner and chain_hash, the
// cityHash64 of chain_id: a number groups faster than a string) and minute
// the aggregates sql/retry_distribution.sql needs — the chain's last step
// in that minute (argMax by (ts, ts_ms, row_id), as the question over
// attempts orders them) and its highest attempt — as aggregate states that
// ClickHouse merges in the background: one row per chain, minute and
// inserted block before a merge, one per chain and minute after. A window
// takes its whole minutes from here and its first, partial minute from
// attempts, so answers are the same as over attempts alone. max and argMax
// do not change when a row is counted twice, so copies of a row (same
// row_id) change no answer.
const (
	ChainStatsTable = "chain_stats"
	ChainStatsView  = "chain_stats_mv"
)

var chainStats = Derived{
	Table: ChainStatsTable,
	View:  ChainStatsView,
	Body: `(
  minute DateTime('UTC'),
  partner String,
  chain_hash UInt64,
  last_step AggregateFunction(argMax, String, Tuple(DateTime('UTC'), UInt16, String)),
  attempts AggregateFunction(max, UInt16)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(minute)
ORDER BY (minute, partner, chain_hash)`,
	Select: func(db, src, where string) string {
		return fmt.Sprintf("SELECT toStartOfMinute(ts) AS minute, partner, cityHash64(chain_id) AS chain_hash, argMaxState(step, (ts, ts_ms, row_id)) AS last_step, maxState(attempt) AS attempts\nFROM `%s`.`%s`%s\nGROUP BY minute, partner, chain_hash", db, src, where)
	},
}
