// Package attemptlog writes the attempt log to ClickHouse: the schema of
// docs/operations.md, the exporter from the attempts stream in Redis, the disk spool
// used while ClickHouse is away, and the analysts' queries.
package attemptlog
