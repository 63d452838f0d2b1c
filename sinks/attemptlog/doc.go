// Package attemptlog writes the attempt log to ClickHouse: the schema of
// docs/operations.md, the exporter from the attempts stream in Redis, the disk spool
// used while ClickHouse is away, the analysts' queries, and the retention that
// drops the days older than clickhouse.retention.
package attemptlog
