// Package testenv gives integration tests the project's real Redis and
// ClickHouse, whose addresses come from STREAMSYNC_TEST_REDIS_ADDR and
// STREAMSYNC_TEST_CLICKHOUSE_ADDR (scripts/infra.sh env prints them).
package testenv
