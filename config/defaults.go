package config

import (
	"slices"
	"time"
)

// Defaults of docs/operations.md, by key. Every key streamsync knows is here.
var defaults = map[string]any{
	"redis.addr":     "127.0.0.1:6379",
	"redis.password": "",
	"redis.db":       0,
	"redis.addrs":    []string{},
	"redis.cluster":  false,

	"redis.username":      "",
	"redis.password_file": "",
	"redis.tls":           false,
	"redis.tls_ca_file":   "",
	"redis.tls_cert_file": "",
	"redis.tls_key_file":  "",

	"redis.sentinel_master":   "",
	"redis.sentinel_username": "",
	"redis.sentinel_password": "",
	"redis.wait_replicas":     0,
	"redis.wait_timeout":      "1s",

	"stream.events":        "streamsync:events",
	"stream.group":         "streamsync",
	"stream.consumer":      "",
	"stream.batch":         256,
	"stream.max_in_flight": 1024,
	"stream.dead":          "streamsync:dead",
	"stream.delayed":       "streamsync:delayed",
	"stream.retry":         "streamsync:retry",
	"stream.keep_acked":    time.Minute,
	"stream.shards":        1,
	"stream.max_len_hard":  5_000_000,

	"sink.partner_name":  "partner",
	"sink.profile":       "",
	"sink.base_url":      "",
	"sink.token_url":     "",
	"sink.client_id":     "",
	"sink.client_secret": "",
	"sink.timeout":       10 * time.Second,
	"sink.rate_limit":    0.0,

	"sink.client_secret_file": "",
	"sink.tls_ca_file":        "",
	"sink.tls_cert_file":      "",
	"sink.tls_key_file":       "",
	"sink.allow_http":         false,

	"retry.initial":      time.Second,
	"retry.max":          5 * time.Minute,
	"retry.max_attempts": 15,

	"event.max_bytes": 1 << 20,

	"dependency.max_wait": 10 * time.Minute,

	"clickhouse.addr":        "127.0.0.1:9000",
	"clickhouse.database":    "streamsync",
	"clickhouse.username":    "default",
	"clickhouse.password":    "",
	"clickhouse.backlog_max": 1000000,
	"clickhouse.spool_dir":   "./data/spool",

	"clickhouse.password_file": "",
	"clickhouse.tls":           false,
	"clickhouse.tls_ca_file":   "",
	"clickhouse.tls_cert_file": "",
	"clickhouse.tls_key_file":  "",
	"clickhouse.retention":     30 * 24 * time.Hour,
	"clickhouse.cluster":       "",

	"admin.addr":  "127.0.0.1:8090",
	"admin.token": "",

	"admin.token_file": "",
	"admin.hosts":      []string{},

	"otel.endpoint": "",

	"ingest.addr":           "",
	"ingest.max_body_bytes": 16 << 20,
	"ingest.tokens":         []string{},
	"ingest.tokens_file":    "",
	"ingest.max_events":     10000,

	"source.kind":          "none",
	"source.base_url":      "",
	"source.token_url":     "",
	"source.client_id":     "",
	"source.client_secret": "",
	"source.timeout":       10 * time.Second,
	"source.file":          "",
	"source.entities":      []string{},

	"source.client_secret_file": "",
	"source.tls_ca_file":        "",
	"source.tls_cert_file":      "",
	"source.tls_key_file":       "",

	"reconcile.every":           time.Duration(0),
	"reconcile.repair":          false,
	"ingest.prepare_timeout":    30 * time.Second,
	"ingest.check_url":          "",
	"ingest.check_max_attempts": 10,

	"outbox.dsn":      "",
	"outbox.dsn_file": "",
	"outbox.table":    "streamsync_outbox",
	"outbox.batch":    500,

	"dead.max_age": 30 * 24 * time.Hour,

	"ours.profile":            "",
	"ours.base_url":           "",
	"ours.token_url":          "",
	"ours.client_id":          "",
	"ours.client_secret":      "",
	"ours.client_secret_file": "",
	"ours.timeout":            10 * time.Second,
	"ours.rate_limit":         0.0,
	"ours.tls_ca_file":        "",
	"ours.tls_cert_file":      "",
	"ours.tls_key_file":       "",
	"ours.allow_http":         false,

	"log.level":  "info",
	"log.format": "text",
}

// Keys lists every configuration key, sorted.
func Keys() []string {
	keys := make([]string, 0, len(defaults))
	for k := range defaults {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// IsKey reports whether key is a configuration key: one of Keys, or a
// setting of a partners.<name> entry.
func IsKey(key string) bool {
	_, ok := defaultOf(key)
	return ok
}
