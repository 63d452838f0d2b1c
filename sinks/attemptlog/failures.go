package attemptlog

import "fmt"

// FailuresTable holds the attempt rows of failures and waits — steps
// retry_scheduled, dead, invalid and parked, a few in a hundred of a
// healthy log's rows — apart from the successes that dominate attempts,
// sorted by step then time, so that the questions about errors
// (sql/top_errors.sql) and dead children (sql/dead_children.sql) read only
// their steps' rows of the window. row_hash (cityHash64 of row_id) stands
// for row_id in the sort key: copies of a row collapse when parts merge,
// and the questions count distinct row_hash until then.
const (
	FailuresTable = "failures"
	FailuresView  = "failures_mv"
)

// failuresSteps are the steps FailuresTable keeps.
const failuresSteps = "('retry_scheduled', 'dead', 'invalid', 'parked')"

var failures = Derived{
	Table: FailuresTable,
	View:  FailuresView,
	Body: `(
  step String,
  ts DateTime('UTC'),
  ts_ms UInt16,
  partner String,
  row_hash UInt64,
  chain_hash UInt64,
  account String,
  chain_id String,
  row_id String,
  entity String,
  key String,
  parent_entity String,
  parent_key String,
  attempt UInt16,
  http_status UInt16,
  error String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(ts)
ORDER BY (step, ts, partner, row_hash)`,
	Select: func(db, src, where string) string {
		cond := " WHERE step IN " + failuresSteps
		if where != "" {
			cond = where + " AND step IN " + failuresSteps
		}
		return fmt.Sprintf("SELECT step, ts, ts_ms, partner, cityHash64(row_id) AS row_hash, cityHash64(chain_id) AS chain_hash, account, chain_id, row_id, entity, key, parent_entity, parent_key, attempt, http_status, error\nFROM `%s`.`%s`%s", db, src, cond)
	},
}
