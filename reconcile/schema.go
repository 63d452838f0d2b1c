package reconcile

import (
	"context"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Tables of docs/reconcile.md, within the configured database.
const (
	ItemsTable = "reconcile_items"
	DiffsTable = "reconcile_diffs"
	RunsTable  = "reconcile_runs"
)

// itemColumns of reconcile_items: docs/reconcile.md's eight, then what a repair
// needs of our record (data and parent; empty on the partner's side).
var itemColumns = []string{"run_id", "side", "entity", "key", "account", "version", "hash", "deleted", "data", "parent_entity", "parent_key"}

var diffColumns = []string{"run_id", "class", "entity", "key", "account", "our_version", "their_version", "our_hash", "their_hash", "ts"}

var runColumns = []string{"run_id", "started", "finished", "against", "ours", "theirs", "equal", "missing", "extra", "behind",
	"ahead", "differs", "repaired", "status", "error", "entities", "accounts"}

// EnsureSchema creates the reconciliation tables when missing. Types and
// engines work on ClickHouse 18.16 and current releases (no DateTime64,
// LowCardinality, TTL or codecs). Items are partitioned by run, so a run's
// rows go with one DROP PARTITION when it ends.
func EnsureSchema(ctx context.Context, conn driver.Conn, db string) error {
	stmts := []string{
		"CREATE DATABASE IF NOT EXISTS `" + db + "`",
		"CREATE TABLE IF NOT EXISTS `" + db + "`.`" + ItemsTable + "` (" +
			"`run_id` String, `side` String, `entity` String, `key` String, `account` String, `version` Int64, " +
			"`hash` String, `deleted` UInt8, `data` String, `parent_entity` String, `parent_key` String" +
			") ENGINE = MergeTree PARTITION BY run_id ORDER BY (entity, side, key)",
		"CREATE TABLE IF NOT EXISTS `" + db + "`.`" + DiffsTable + "` (" +
			"`run_id` String, `class` String, `entity` String, `key` String, `account` String, " +
			"`our_version` Int64, `their_version` Int64, `our_hash` String, `their_hash` String, `ts` DateTime('UTC')" +
			") ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY (run_id, class, entity, key)",
		"CREATE TABLE IF NOT EXISTS `" + db + "`.`" + RunsTable + "` (" +
			"`run_id` String, `started` DateTime('UTC'), `finished` DateTime('UTC'), `against` String, " +
			"`ours` UInt64, `theirs` UInt64, `equal` UInt64, `missing` UInt64, `extra` UInt64, `behind` UInt64, " +
			"`ahead` UInt64, `differs` UInt64, `repaired` UInt64, `status` String, `error` String, " +
			"`entities` String, `accounts` String" +
			") ENGINE = MergeTree PARTITION BY toYYYYMM(started) ORDER BY (started, run_id)",
	}
	for _, s := range stmts {
		if err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("reconcile schema: %s: %w", firstWords(s), err)
		}
	}
	return nil
}

func firstWords(s string) string {
	if i := strings.Index(s, "("); i > 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

func cols(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "`" + n + "`"
	}
	return strings.Join(q, ", ")
}
