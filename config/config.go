package config

import "time"

// Config is every setting of streamsync, one section per part.
type Config struct {
	Redis      RedisConfig      `koanf:"redis"`
	Stream     StreamConfig     `koanf:"stream"`
	Sink       SinkConfig       `koanf:"sink"`
	Retry      RetryConfig      `koanf:"retry"`
	Event      EventConfig      `koanf:"event"`
	Dependency DependencyConfig `koanf:"dependency"`
	ClickHouse ClickHouseConfig `koanf:"clickhouse"`
	Admin      AdminConfig      `koanf:"admin"`
	Otel       OtelConfig       `koanf:"otel"`
	Ingest     IngestConfig     `koanf:"ingest"`
	Outbox     OutboxConfig     `koanf:"outbox"`
	Log        LogConfig        `koanf:"log"`
	Source     SourceConfig     `koanf:"source"`
	Reconcile  ReconcileConfig  `koanf:"reconcile"`
}

// RedisConfig says where the streams live.
type RedisConfig struct {
	Addr     string `koanf:"addr"`
	Password string `koanf:"password"`
	DB       int    `koanf:"db"`
	// Addrs lists Redis Cluster nodes (contract §9); more than one, or
	// Cluster, means a Redis Cluster, and Addr is then not used.
	Addrs   []string `koanf:"addrs"`
	Cluster bool     `koanf:"cluster"`
}

// IsCluster reports whether the settings name a Redis Cluster.
func (r RedisConfig) IsCluster() bool { return r.Cluster || len(r.Addrs) > 1 }

// Nodes are the addresses to connect to: Addrs when set, else Addr.
func (r RedisConfig) Nodes() []string {
	if len(r.Addrs) > 0 {
		return r.Addrs
	}
	return []string{r.Addr}
}

// StreamConfig names the Redis keys and sizes the reading.
type StreamConfig struct {
	Events      string `koanf:"events"`
	Group       string `koanf:"group"`
	Consumer    string `koanf:"consumer"`
	Batch       int    `koanf:"batch"`
	MaxInFlight int    `koanf:"max_in_flight"`
	Dead        string `koanf:"dead"`
	Delayed     string `koanf:"delayed"`
	Retry       string `koanf:"retry"`
	// KeepAcked is how long entries every consumer group has acked stay in
	// the events stream before it is trimmed.
	KeepAcked time.Duration `koanf:"keep_acked"`
	// Shards is how many shards the accounts are spread over (contract §9).
	Shards int `koanf:"shards"`
}

// SinkConfig describes the partner API.
type SinkConfig struct {
	PartnerName  string        `koanf:"partner_name"`
	BaseURL      string        `koanf:"base_url"`
	TokenURL     string        `koanf:"token_url"`
	ClientID     string        `koanf:"client_id"`
	ClientSecret string        `koanf:"client_secret"`
	Timeout      time.Duration `koanf:"timeout"`
	// RateLimit caps partner calls per second; 0 means no limit.
	RateLimit float64 `koanf:"rate_limit"`
}

// RetryConfig shapes the backoff of transient failures.
type RetryConfig struct {
	Initial     time.Duration `koanf:"initial"`
	Max         time.Duration `koanf:"max"`
	MaxAttempts int           `koanf:"max_attempts"`
}

// EventConfig bounds what an event may be.
type EventConfig struct {
	MaxBytes int `koanf:"max_bytes"`
}

// DependencyConfig bounds how long a child waits for an unseen parent.
type DependencyConfig struct {
	MaxWait time.Duration `koanf:"max_wait"`
}

// ClickHouseConfig locates the attempt log; an empty Addr turns it off.
type ClickHouseConfig struct {
	Addr       string `koanf:"addr"`
	Database   string `koanf:"database"`
	Username   string `koanf:"username"`
	Password   string `koanf:"password"`
	BacklogMax int    `koanf:"backlog_max"`
	SpoolDir   string `koanf:"spool_dir"`
}

// AdminConfig is the admin HTTP server; an empty Addr turns it off.
type AdminConfig struct {
	Addr  string `koanf:"addr"`
	Token string `koanf:"token"`
}

// OtelConfig is OpenTelemetry tracing; an empty Endpoint turns it off.
type OtelConfig struct {
	// Endpoint is the OTLP/HTTP collector base URL, e.g. http://127.0.0.1:4318.
	Endpoint string `koanf:"endpoint"`
}

// IngestConfig is the HTTP ingest endpoint; an empty Addr turns it off.
type IngestConfig struct {
	Addr         string `koanf:"addr"`
	MaxBodyBytes int    `koanf:"max_body_bytes"`
	// Prepared events (contract §8): how long one may wait unconfirmed before
	// it is checked back, where, and how many check-backs before it is
	// dead-lettered unconfirmed.
	PrepareTimeout   time.Duration `koanf:"prepare_timeout"`
	CheckURL         string        `koanf:"check_url"`
	CheckMaxAttempts int           `koanf:"check_max_attempts"`
}

// OutboxConfig is the PostgreSQL transactional-outbox relay (contract §8);
// an empty DSN turns it off.
type OutboxConfig struct {
	DSN   string `koanf:"dsn"`
	Table string `koanf:"table"`
	Batch int    `koanf:"batch"`
}

// LogConfig sets the process log.
type LogConfig struct {
	Level  string `koanf:"level"`
	Format string `koanf:"format"`
}

// SourceConfig is our side of the records (contract §5).
type SourceConfig struct {
	Kind         string        `koanf:"kind"` // none, http or file
	BaseURL      string        `koanf:"base_url"`
	TokenURL     string        `koanf:"token_url"`
	ClientID     string        `koanf:"client_id"`
	ClientSecret string        `koanf:"client_secret"`
	Timeout      time.Duration `koanf:"timeout"`
	File         string        `koanf:"file"`
	Entities     []string      `koanf:"entities"`
}

// ReconcileConfig schedules reconciliation inside `streamsync run` (contract §6).
type ReconcileConfig struct {
	Every  time.Duration `koanf:"every"` // 0: off
	Repair bool          `koanf:"repair"`
}
