package attemptlog

import "fmt"

// CallsTable holds, for each attempt row that made a partner call
// (attempt > 0 and an HTTP status), its time, partner and latency: the
// narrow, time-sorted rows sql/latency_per_minute.sql reads instead of
// attempts' wide ones sorted by account. row_hash (cityHash64 of row_id)
// is last in the sort key, so copies of a row collapse when parts merge;
// the question reads one row per (ts, row_hash) until then.
const (
	CallsTable = "calls"
	CallsView  = "calls_mv"
)

var calls = Derived{
	Table: CallsTable,
	View:  CallsView,
	Body: `(
  ts DateTime('UTC'),
  partner String,
  row_hash UInt64,
  latency_us UInt32
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(ts)
ORDER BY (ts, partner, row_hash)`,
	Select: func(db, src, where string) string {
		cond := " WHERE attempt > 0 AND http_status > 0"
		if where != "" {
			cond = where + " AND attempt > 0 AND http_status > 0"
		}
		return fmt.Sprintf("SELECT ts, partner, cityHash64(row_id) AS row_hash, latency_us\nFROM `%s`.`%s`%s", db, src, cond)
	},
}
