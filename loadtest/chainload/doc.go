// Package chainload fills a scratch attempt log with realistic chains for
// the failed-chains benchmark (make bench-chains, docs/benchmarks.md) and
// times the analysts' questions over it. Rows go in the way an analyst's
// bulk load would: INSERT … SELECT … FROM system.numbers into the attempts
// table attemptlog.EnsureSchema creates, so whatever ClickHouse derives from
// that table counts them too.
package chainload
