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
	Dead       DeadConfig       `koanf:"dead"`
	// Partners are further partners by name (docs/partners.md, "Several
	// partners"); the one of sink.* keeps working beside them.
	Partners map[string]PartnerConfig `koanf:"partners"`
	// Ours is our own write API, to which changes from partners are
	// delivered (docs/partners.md, "Two-way sync"); its partner_name is
	// not used.
	Ours SinkConfig `koanf:"ours"`
}

// RedisConfig says where the streams live.
type RedisConfig struct {
	Addr string `koanf:"addr"`
	// Username is the ACL user (AUTH username password); empty means the
	// default user.
	Username string `koanf:"username"`
	Password string `koanf:"password"`
	// PasswordFile holds the password (docs/security.md); Load reads it into
	// Password.
	PasswordFile string `koanf:"password_file"`
	DB           int    `koanf:"db"`
	// TLS turns on TLS to Redis; TLSCAFile, TLSCertFile and TLSKeyFile
	// (PEM) imply it.
	TLS         bool   `koanf:"tls"`
	TLSCAFile   string `koanf:"tls_ca_file"`
	TLSCertFile string `koanf:"tls_cert_file"`
	TLSKeyFile  string `koanf:"tls_key_file"`
	// Addrs lists Redis Cluster nodes (docs/scaling.md); more than one, or
	// Cluster, means a Redis Cluster, and Addr is then not used.
	Addrs   []string `koanf:"addrs"`
	Cluster bool     `koanf:"cluster"`
	// SentinelMaster is the name of the master a Redis Sentinel watches
	// (docs/reliability.md, "Redis Sentinel"); when set, Addrs lists the
	// sentinels (not a Cluster) and every client follows the master they name.
	SentinelMaster string `koanf:"sentinel_master"`
	// SentinelUsername and SentinelPassword are the sentinels' own AUTH,
	// when they have one (the Redis servers take Username and Password).
	SentinelUsername string `koanf:"sentinel_username"`
	SentinelPassword string `koanf:"sentinel_password"`
	// WaitReplicas is how many replicas must have a write acknowledged to a
	// producer (WAIT; docs/reliability.md, "Waiting for replicas"); 0 waits
	// for none. WaitTimeout bounds that wait.
	WaitReplicas int           `koanf:"wait_replicas"`
	WaitTimeout  time.Duration `koanf:"wait_timeout"`
}

// IsSentinel reports whether the settings name a Redis watched by
// sentinels (redis.sentinel_master).
func (r RedisConfig) IsSentinel() bool { return r.SentinelMaster != "" }

// TLSFiles are the PEM files of the Redis connection's TLS.
func (r RedisConfig) TLSFiles() TLSFiles {
	return TLSFiles{Enabled: r.TLS, CAFile: r.TLSCAFile, CertFile: r.TLSCertFile, KeyFile: r.TLSKeyFile}
}

// IsCluster reports whether the settings name a Redis Cluster.
func (r RedisConfig) IsCluster() bool {
	return r.Cluster || (len(r.Addrs) > 1 && !r.IsSentinel())
}

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
	// Shards is how many shards the accounts are spread over (docs/scaling.md).
	Shards int `koanf:"shards"`
	// MaxLenHard is the hard bound on each events stream's length, in
	// entries: past it the oldest entries are trimmed even when a consumer
	// group has not read or acked them (docs/reliability.md, "A consumer
	// group nobody reads"). 0: no bound.
	MaxLenHard int64 `koanf:"max_len_hard"`
}

// SinkConfig describes the partner API.
type SinkConfig struct {
	PartnerName string `koanf:"partner_name"`
	// Profile is the partner's API (docs/partners.md): "" or "streamsync"
	// for the built-in one (docs/partner-api.md), else the path of a
	// profile's YAML file.
	Profile      string `koanf:"profile"`
	BaseURL      string `koanf:"base_url"`
	TokenURL     string `koanf:"token_url"`
	ClientID     string `koanf:"client_id"`
	ClientSecret string `koanf:"client_secret"`
	// ClientSecretFile holds the client secret; Load reads it into
	// ClientSecret.
	ClientSecretFile string        `koanf:"client_secret_file"`
	Timeout          time.Duration `koanf:"timeout"`
	// RateLimit caps partner calls per second; 0 means no limit.
	RateLimit float64 `koanf:"rate_limit"`
	// TLSCAFile (PEM) is trusted besides the system's roots for the partner;
	// TLSCertFile and TLSKeyFile are a client certificate (mTLS).
	TLSCAFile   string `koanf:"tls_ca_file"`
	TLSCertFile string `koanf:"tls_cert_file"`
	TLSKeyFile  string `koanf:"tls_key_file"`
	// AllowHTTP lets a plain http:// partner or source URL name a host that
	// is not loopback (docs/security.md).
	AllowHTTP bool `koanf:"allow_http"`
	// Setting is where these settings came from, for messages: "sink" when
	// empty, "partners.<name>" or "ours". Not a setting itself.
	Setting string `koanf:"-"`
}

// Key names one of these settings where they came from:
// Key("profile") is "sink.profile", "partners.erp.profile" or "ours.profile".
func (s SinkConfig) Key(name string) string {
	if s.Setting == "" {
		return "sink." + name
	}
	return s.Setting + "." + name
}

// BuiltInProfile is the name of the built-in partner API as a profile.
const BuiltInProfile = "streamsync"

// UsesProfile reports whether sink.profile names a profile file rather
// than the built-in partner API.
func (s SinkConfig) UsesProfile() bool { return s.Profile != "" && s.Profile != BuiltInProfile }

// TLSFiles are the PEM files of the partner connection's TLS.
func (s SinkConfig) TLSFiles() TLSFiles {
	return TLSFiles{CAFile: s.TLSCAFile, CertFile: s.TLSCertFile, KeyFile: s.TLSKeyFile}
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
	Addr     string `koanf:"addr"`
	Database string `koanf:"database"`
	Username string `koanf:"username"`
	Password string `koanf:"password"`
	// PasswordFile holds the password; Load reads it into Password.
	PasswordFile string `koanf:"password_file"`
	BacklogMax   int    `koanf:"backlog_max"`
	SpoolDir     string `koanf:"spool_dir"`
	// TLS turns on TLS to ClickHouse (native protocol, usually port 9440);
	// TLSCAFile, TLSCertFile and TLSKeyFile (PEM) imply it.
	TLS         bool   `koanf:"tls"`
	TLSCAFile   string `koanf:"tls_ca_file"`
	TLSCertFile string `koanf:"tls_cert_file"`
	TLSKeyFile  string `koanf:"tls_key_file"`
	// Retention is how long the attempt log keeps its rows: whole days
	// (partitions) older than this are dropped, hourly, by one process at
	// a time (docs/operations.md, "Retention"). 0 keeps every row; otherwise
	// at least 24h. Default 30d.
	Retention time.Duration `koanf:"retention"`
	// Cluster is a cluster of the ClickHouse servers' remote_servers over
	// which the attempt log is sharded by account (docs/operations.md,
	// "Growing past one ClickHouse"); empty for one server.
	// [A-Za-z_][A-Za-z0-9_.-]*, at most 128 characters.
	Cluster string `koanf:"cluster"`
}

// TLSFiles are the PEM files of the ClickHouse connection's TLS.
func (c ClickHouseConfig) TLSFiles() TLSFiles {
	return TLSFiles{Enabled: c.TLS, CAFile: c.TLSCAFile, CertFile: c.TLSCertFile, KeyFile: c.TLSKeyFile}
}

// AdminConfig is the admin HTTP server; an empty Addr turns it off.
type AdminConfig struct {
	Addr  string `koanf:"addr"`
	Token string `koanf:"token"`
	// TokenFile holds the token; Load reads it into Token.
	TokenFile string `koanf:"token_file"`
	// Hosts are further names (host or host:port) a request's Host header
	// may carry besides Addr itself, e.g. the name of a reverse proxy
	// (docs/security.md).
	Hosts []string `koanf:"hosts"`
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
	// Tokens are the producers' credentials, each "name:token"; TokensFile
	// holds more, one a line (docs/security.md). Load appends the file's
	// to Tokens; use Producers for the parsed pairs.
	Tokens     []string `koanf:"tokens"`
	TokensFile string   `koanf:"tokens_file"`
	// MaxEvents is how many events one request may carry.
	MaxEvents int `koanf:"max_events"`
	// Prepared events (docs/producers.md): how long one may wait unconfirmed before
	// it is checked back, where, and how many check-backs before it is
	// dead-lettered unconfirmed.
	PrepareTimeout   time.Duration `koanf:"prepare_timeout"`
	CheckURL         string        `koanf:"check_url"`
	CheckMaxAttempts int           `koanf:"check_max_attempts"`
}

// OutboxConfig is the PostgreSQL transactional-outbox relay (docs/producers.md);
// an empty DSN turns it off.
type OutboxConfig struct {
	DSN string `koanf:"dsn"`
	// DSNFile holds the DSN (it carries a password); Load reads it into DSN.
	DSNFile string `koanf:"dsn_file"`
	Table   string `koanf:"table"`
	Batch   int    `koanf:"batch"`
}

// LogConfig sets the process log.
type LogConfig struct {
	Level  string `koanf:"level"`
	Format string `koanf:"format"`
}

// SourceConfig is our side of the records (docs/reconcile.md).
type SourceConfig struct {
	Kind         string `koanf:"kind"` // none, http or file
	BaseURL      string `koanf:"base_url"`
	TokenURL     string `koanf:"token_url"`
	ClientID     string `koanf:"client_id"`
	ClientSecret string `koanf:"client_secret"`
	// ClientSecretFile holds the client secret; Load reads it into
	// ClientSecret.
	ClientSecretFile string        `koanf:"client_secret_file"`
	Timeout          time.Duration `koanf:"timeout"`
	File             string        `koanf:"file"`
	Entities         []string      `koanf:"entities"`
	// TLS of the source's HTTP API, as the sink's.
	TLSCAFile   string `koanf:"tls_ca_file"`
	TLSCertFile string `koanf:"tls_cert_file"`
	TLSKeyFile  string `koanf:"tls_key_file"`
}

// TLSFiles are the PEM files of the source connection's TLS.
func (s SourceConfig) TLSFiles() TLSFiles {
	return TLSFiles{CAFile: s.TLSCAFile, CertFile: s.TLSCertFile, KeyFile: s.TLSKeyFile}
}

// ReconcileConfig schedules reconciliation inside `streamsync run` (docs/reconcile.md).
type ReconcileConfig struct {
	Every  time.Duration `koanf:"every"` // 0: off
	Repair bool          `koanf:"repair"`
}

// DeadConfig bounds the dead-letter stream (docs/security.md, "Bounded").
type DeadConfig struct {
	// MaxAge is how long a dead letter stays in the dead-letter stream;
	// older ones are archived to ClickHouse (<db>.dead_letters) first, then
	// trimmed.
	MaxAge time.Duration `koanf:"max_age"`
}

// TLSFiles name the PEM files of one TLS client connection. Enabled is set
// for servers reached over plain TCP unless told otherwise (Redis,
// ClickHouse); HTTP URLs say it with https://.
type TLSFiles struct {
	Enabled  bool
	CAFile   string // trusted roots besides the system's; empty: the system's only
	CertFile string // client certificate (mTLS), with KeyFile
	KeyFile  string
}

// On reports whether TLS is wanted: Enabled or any file named.
func (t TLSFiles) On() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != ""
}
