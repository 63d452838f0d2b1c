package config

import (
	"slices"
	"time"
)

// Defaults of contract §4, by key. Every key streamsync knows is here.
var defaults = map[string]any{
	"redis.addr":     "127.0.0.1:6379",
	"redis.password": "",
	"redis.db":       0,
	"redis.addrs":    []string{},
	"redis.cluster":  false,

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

	"sink.partner_name":  "partner",
	"sink.base_url":      "",
	"sink.token_url":     "",
	"sink.client_id":     "",
	"sink.client_secret": "",
	"sink.timeout":       10 * time.Second,
	"sink.rate_limit":    0.0,

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

	"admin.addr":  "127.0.0.1:8090",
	"admin.token": "",

	"otel.endpoint": "",

	"ingest.addr":           "",
	"ingest.max_body_bytes": 16 << 20,

	"source.kind":          "none",
	"source.base_url":      "",
	"source.token_url":     "",
	"source.client_id":     "",
	"source.client_secret": "",
	"source.timeout":       10 * time.Second,
	"source.file":          "",
	"source.entities":      []string{},

	"reconcile.every":           time.Duration(0),
	"reconcile.repair":          false,
	"ingest.prepare_timeout":    30 * time.Second,
	"ingest.check_url":          "",
	"ingest.check_max_attempts": 10,

	"outbox.dsn":   "",
	"outbox.table": "streamsync_outbox",
	"outbox.batch": 500,

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

// IsKey reports whether key is a configuration key.
func IsKey(key string) bool {
	_, ok := defaults[key]
	return ok
}
