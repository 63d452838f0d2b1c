// Package deadarchive keeps the dead-letter stream bounded (docs/security.md,
// "Bounded"): dead letters older than dead.max_age are copied to ClickHouse
// (<db>.dead_letters, every field kept) and only then removed from Redis.
package deadarchive
