package attemptlog

import "fmt"

// ChainIndexTable finds a chain by its id alone. attempts is ordered by
// (account, chain_id, row_id), so a chain whose account is not known would
// be a scan of every row; chain_index, ordered by chain_id, names the
// chain's partner, account, record and parent record, after which its rows
// are read from attempts by (account, chain_id), the prefix of its sort
// key (Family, docs/operations.md "A chain's family").
//
// A materialized view (ChainIndexView) adds one row per chain of each
// insert into attempts; ReplacingMergeTree folds a chain's rows of one day
// into one when parts merge. first_ts is the earliest step among the rows of the
// insert the row came from and only places it in a day partition, so
// retention drops it with attempts' day. An index, not a record: readers
// take distinct (partner, account, chain_id) and re-read attempts.
const (
	ChainIndexTable = "chain_index"
	ChainIndexView  = "chain_index_mv"
)

// ChainChildrenTable finds the children of a record: the chains whose rows
// carry parent_entity/parent_key equal to the record's entity/key at the
// same partner, ordered by (partner, parent_entity, parent_key), with each
// child chain's latest step and its error. The failed-chains list counts a
// failure's stranded children from it (sql/failed_chains.sql, the stranded
// column) and Family finds the children of a chain's record.
//
// Only rows with a parent reach it (ChainChildrenView). Like chain_ends it
// holds, after merges, one row per child chain and day, the one with the
// highest ver (the same order as chain_ends': by (ts, ts_ms), a failure or
// wait above another step of the same millisecond), and before merges a
// few; readers take argMax(last_step, ver) over a chain's rows.
const (
	ChainChildrenTable = "chain_children"
	ChainChildrenView  = "chain_children_mv"
)

// chainIndex is chain_index among DerivedTables.
var chainIndex = Derived{
	Table: ChainIndexTable,
	View:  ChainIndexView,
	Body: "(\n  partner String,\n  account String,\n  chain_id String,\n  entity String,\n  key String,\n  parent_entity String,\n  parent_key String,\n  first_ts DateTime('UTC')\n)" +
		" ENGINE = ReplacingMergeTree\nPARTITION BY toYYYYMMDD(first_ts)\nORDER BY (chain_id, partner, account)",
	// max(entity): an invalid event's first row may lack its record.
	Select: func(db, src, where string) string {
		return fmt.Sprintf("SELECT partner, account, chain_id, max(entity) AS entity, max(key) AS key, max(parent_entity) AS parent_entity, max(parent_key) AS parent_key, min(ts) AS first_ts\n"+
			"FROM `%s`.`%s`%s\nGROUP BY partner, account, chain_id", db, src, where)
	},
}

// chainChildren is chain_children among DerivedTables.
var chainChildren = Derived{
	Table: ChainChildrenTable,
	View:  ChainChildrenView,
	Body: "(\n  partner String,\n  parent_entity String,\n  parent_key String,\n  account String,\n  chain_id String,\n  last_ts DateTime('UTC'),\n  last_step String,\n  last_error String,\n  ver UInt64\n)" +
		" ENGINE = ReplacingMergeTree(ver)\nPARTITION BY toYYYYMMDD(last_ts)\nORDER BY (partner, parent_entity, parent_key, account, chain_id)",
	Select: func(db, src, where string) string {
		if where == "" {
			where = " WHERE parent_entity != ''"
		} else {
			where += " AND parent_entity != ''"
		}
		return fmt.Sprintf("SELECT partner, parent_entity, parent_key, account, chain_id, argMax(ts, %[4]s) AS last_ts, argMax(step, %[4]s) AS last_step, argMax(error, %[4]s) AS last_error, max(%[4]s) AS ver\n"+
			"FROM `%[1]s`.`%[2]s`%[3]s\nGROUP BY partner, parent_entity, parent_key, account, chain_id", db, src, where, chainEndsVer)
	},
}
