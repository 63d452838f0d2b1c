package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

func writeYAML(tb testing.TB, body string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func load(tb testing.TB, args []string, environ []string) (Config, error) {
	tb.Helper()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		tb.Fatal(err)
	}
	return Load(fs, environ)
}

func TestDefaultsMatchContract(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Redis:      RedisConfig{Addr: "127.0.0.1:6379", Addrs: []string{}, WaitTimeout: time.Second},
		Stream:     StreamConfig{Events: "streamsync:events", Group: "streamsync", Batch: 256, MaxInFlight: 1024, Dead: "streamsync:dead", Delayed: "streamsync:delayed", Retry: "streamsync:retry", KeepAcked: time.Minute, Shards: 1, MaxLenHard: 5_000_000},
		Sink:       SinkConfig{PartnerName: "partner", Timeout: 10 * time.Second},
		Retry:      RetryConfig{Initial: time.Second, Max: 5 * time.Minute, MaxAttempts: 15},
		Event:      EventConfig{MaxBytes: 1048576},
		Dependency: DependencyConfig{MaxWait: 10 * time.Minute},
		ClickHouse: ClickHouseConfig{Addr: "127.0.0.1:9000", Database: "streamsync", Username: "default", BacklogMax: 1000000, SpoolDir: "./data/spool", Retention: 30 * 24 * time.Hour},
		Admin:      AdminConfig{Addr: "127.0.0.1:8090", Hosts: []string{}},
		Ingest:     IngestConfig{MaxBodyBytes: 16 << 20, Tokens: []string{}, MaxEvents: 10000, PrepareTimeout: 30 * time.Second, CheckMaxAttempts: 10},
		Outbox:     OutboxConfig{Table: "streamsync_outbox", Batch: 500},
		Log:        LogConfig{Level: "info", Format: "text"},
		Source:     SourceConfig{Kind: "none", Timeout: 10 * time.Second, Entities: []string{}},
		Dead:       DeadConfig{MaxAge: 30 * 24 * time.Hour},
		Ours:       SinkConfig{Timeout: 10 * time.Second},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", c, want)
	}
	// The only default that does not validate is the required partner URL.
	err = c.Validate()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "sink.base_url" || strings.Count(err.Error(), "\n") != 0 {
		t.Fatalf("Validate(defaults) = %v, want only sink.base_url: required", err)
	}
}

func TestPrecedence(t *testing.T) {
	yml := writeYAML(t, "sink:\n  base_url: http://yaml\n  timeout: 3s\nstream:\n  batch: 10\n  group: g-yaml\nredis:\n  db: 2\n")
	tests := []struct {
		name    string
		args    []string
		environ []string
		check   func(Config) bool
	}{
		{"default", nil, nil, func(c Config) bool { return c.Stream.Batch == 256 && c.Sink.BaseURL == "" }},
		{"yaml over default", []string{"--config", yml}, nil, func(c Config) bool {
			return c.Stream.Batch == 10 && c.Sink.BaseURL == "http://yaml" && c.Sink.Timeout == 3*time.Second && c.Redis.DB == 2
		}},
		{"env over yaml", []string{"--config", yml}, []string{"STREAMSYNC_SINK__BASE_URL=http://env", "STREAMSYNC_STREAM__BATCH=20", "STREAMSYNC_SINK__TIMEOUT=4s", "OTHER=x", "STREAMSYNC_TEST_REDIS_ADDR=127.0.0.1:1"}, func(c Config) bool {
			return c.Sink.BaseURL == "http://env" && c.Stream.Batch == 20 && c.Sink.Timeout == 4*time.Second && c.Stream.Group == "g-yaml"
		}},
		{"flag over env", []string{"--config", yml, "--sink.base_url=http://flag", "--stream.max_in_flight=7"}, []string{"STREAMSYNC_SINK__BASE_URL=http://env", "STREAMSYNC_STREAM__MAX_IN_FLIGHT=5"}, func(c Config) bool {
			return c.Sink.BaseURL == "http://flag" && c.Stream.MaxInFlight == 7 && c.Stream.Batch == 10
		}},
		{"unset flag keeps env", []string{"--config", yml}, []string{"STREAMSYNC_REDIS__DB=3"}, func(c Config) bool { return c.Redis.DB == 3 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.args, tt.environ)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Fatalf("unexpected config %+v", c)
			}
		})
	}
}

func TestLoadErrorsNameTheSetting(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		environ []string
		want    string
	}{
		{"unknown yaml key", "sink:\n  baseurl: x\n", nil, "sink.baseurl: unknown setting"},
		{"unknown env key", "", []string{"STREAMSYNC_SINK__BASEURL=x"}, "sink.baseurl: unknown setting (from STREAMSYNC_SINK__BASEURL)"},
		{"single underscore", "", []string{"STREAMSYNC_SINK_BASE_URL=x"}, "sink_base_url: unknown setting (from STREAMSYNC_SINK_BASE_URL; nesting takes a double underscore"},
		{"unknown section", "", []string{"STREAMSYNC_SINKS__BASE_URL=x"}, "sinks.base_url: unknown setting"},
		{"bad int", "", []string{"STREAMSYNC_STREAM__BATCH=lots"}, `stream.batch: want a whole number, got "lots"`},
		{"fraction for int", "stream:\n  batch: 2.5\n", nil, "stream.batch: want a whole number"},
		{"duration without unit", "sink:\n  timeout: 10\n", nil, "sink.timeout: want a duration with a unit"},
		{"bad duration", "", []string{"STREAMSYNC_RETRY__MAX=soon"}, `retry.max: want a duration with a unit such as "10s", "5m" or "30d", got "soon"`},
		{"bad float", "", []string{"STREAMSYNC_SINK__RATE_LIMIT=fast"}, "sink.rate_limit: want a number"},
		{"map for string", "redis:\n  addr:\n    host: x\n", nil, "redis.addr.host: unknown setting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var args []string
			if tt.yaml != "" {
				args = []string{"--config", writeYAML(t, tt.yaml)}
			}
			_, err := load(t, args, tt.environ)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := load(t, []string{"--config", "/nonexistent/c.yaml"}, nil); err == nil || !strings.Contains(err.Error(), "--config /nonexistent/c.yaml") {
		t.Fatalf("missing file: err = %v", err)
	}
}

func valid() Config {
	c, _ := Load(nil, []string{"STREAMSYNC_SINK__BASE_URL=http://127.0.0.1:8081"})
	return c
}

func TestValidate(t *testing.T) {
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	// A profile may bring its own base_url: sink.base_url is then optional.
	withProfile := valid()
	withProfile.Sink.BaseURL = ""
	withProfile.Sink.Profile = filepath.Join(t.TempDir(), "crm.yaml")
	if err := os.WriteFile(withProfile.Sink.Profile, []byte("name: crm\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := withProfile.Validate(); err != nil {
		t.Fatalf("config with a profile and no sink.base_url: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		key    string
	}{
		{"redis addr missing", func(c *Config) { c.Redis.Addr = "" }, "redis.addr"},
		{"redis addr no port", func(c *Config) { c.Redis.Addr = "localhost" }, "redis.addr"},
		{"redis db negative", func(c *Config) { c.Redis.DB = -1 }, "redis.db"},
		{"sentinel without sentinels", func(c *Config) { c.Redis.SentinelMaster = "m" }, "redis.addrs"},
		{"sentinel with a cluster", func(c *Config) {
			c.Redis.SentinelMaster, c.Redis.Addrs, c.Redis.Cluster = "m", []string{"127.0.0.1:26379"}, true
		}, "redis.sentinel_master"},
		{"wait replicas negative", func(c *Config) { c.Redis.WaitReplicas = -1 }, "redis.wait_replicas"},
		{"wait replicas without a timeout", func(c *Config) { c.Redis.WaitReplicas, c.Redis.WaitTimeout = 1, 0 }, "redis.wait_timeout"},
		{"events empty", func(c *Config) { c.Stream.Events = "" }, "stream.events"},
		{"group empty", func(c *Config) { c.Stream.Group = "" }, "stream.group"},
		{"events same as dead", func(c *Config) { c.Stream.Dead = c.Stream.Events }, "stream.events"},
		{"dead same as retry", func(c *Config) { c.Stream.Retry = c.Stream.Dead }, "stream.dead"},
		{"delayed same as retry", func(c *Config) { c.Stream.Retry = c.Stream.Delayed }, "stream.delayed"},
		{"batch zero", func(c *Config) { c.Stream.Batch = 0 }, "stream.batch"},
		{"batch huge", func(c *Config) { c.Stream.Batch = 100000 }, "stream.batch"},
		{"in flight zero", func(c *Config) { c.Stream.MaxInFlight = 0 }, "stream.max_in_flight"},
		{"partner name empty", func(c *Config) { c.Sink.PartnerName = "" }, "sink.partner_name"},
		{"base url missing", func(c *Config) { c.Sink.BaseURL = "" }, "sink.base_url"},
		{"base url relative", func(c *Config) { c.Sink.BaseURL = "/v1" }, "sink.base_url"},
		{"profile file missing", func(c *Config) { c.Sink.Profile = "/nonexistent/crm.yaml" }, "sink.profile"},
		{"base url ftp", func(c *Config) { c.Sink.BaseURL = "ftp://x" }, "sink.base_url"},
		{"token url bad", func(c *Config) { c.Sink.TokenURL = "token" }, "sink.token_url"},
		{"secret without id", func(c *Config) { c.Sink.ClientSecret = "s" }, "sink.client_id"},
		{"timeout zero", func(c *Config) { c.Sink.Timeout = 0 }, "sink.timeout"},
		{"rate negative", func(c *Config) { c.Sink.RateLimit = -1 }, "sink.rate_limit"},
		{"retry initial zero", func(c *Config) { c.Retry.Initial = 0 }, "retry.initial"},
		{"retry max below initial", func(c *Config) { c.Retry.Max = time.Millisecond }, "retry.max"},
		{"max attempts zero", func(c *Config) { c.Retry.MaxAttempts = 0 }, "retry.max_attempts"},
		{"max bytes tiny", func(c *Config) { c.Event.MaxBytes = 10 }, "event.max_bytes"},
		{"max wait zero", func(c *Config) { c.Dependency.MaxWait = 0 }, "dependency.max_wait"},
		{"clickhouse addr bad", func(c *Config) { c.ClickHouse.Addr = "nohost" }, "clickhouse.addr"},
		{"clickhouse db bad", func(c *Config) { c.ClickHouse.Database = "a-b; drop" }, "clickhouse.database"},
		{"backlog zero", func(c *Config) { c.ClickHouse.BacklogMax = 0 }, "clickhouse.backlog_max"},
		{"spool dir empty", func(c *Config) { c.ClickHouse.SpoolDir = "" }, "clickhouse.spool_dir"},
		{"retention below a day", func(c *Config) { c.ClickHouse.Retention = 23 * time.Hour }, "clickhouse.retention"},
		{"retention negative", func(c *Config) { c.ClickHouse.Retention = -24 * time.Hour }, "clickhouse.retention"},
		{"clickhouse cluster bad", func(c *Config) { c.ClickHouse.Cluster = "two shards; drop" }, "clickhouse.cluster"},
		{"admin addr bad", func(c *Config) { c.Admin.Addr = "8090" }, "admin.addr"},
		{"ingest addr bad", func(c *Config) { c.Ingest.Addr = "x" }, "ingest.addr"},
		{"ingest body below an event", func(c *Config) { c.Ingest.MaxBodyBytes = 10 }, "ingest.max_body_bytes"},
		{"prepare timeout too short", func(c *Config) { c.Ingest.PrepareTimeout = 10 * time.Millisecond }, "ingest.prepare_timeout"},
		{"check url not http", func(c *Config) { c.Ingest.CheckURL = "ftp://x/check" }, "ingest.check_url"},
		{"check attempts 0", func(c *Config) { c.Ingest.CheckMaxAttempts = 0 }, "ingest.check_max_attempts"},
		{"outbox dsn not postgres", func(c *Config) { c.Outbox.DSN = "mysql://h/db" }, "outbox.dsn"},
		{"outbox table quoted", func(c *Config) { c.Outbox.DSN = "postgres://h/db"; c.Outbox.Table = `x"; drop` }, "outbox.table"},
		{"outbox batch 0", func(c *Config) { c.Outbox.DSN = "postgres://h/db"; c.Outbox.Batch = 0 }, "outbox.batch"},
		{"log level bad", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{"log format bad", func(c *Config) { c.Log.Format = "xml" }, "log.format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(&c)
			err := c.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Key != tt.key {
				t.Fatalf("Validate() = %v, want a FieldError for %s", err, tt.key)
			}
			if !strings.HasPrefix(err.Error(), tt.key+": ") {
				t.Fatalf("message %q does not start with the key", err)
			}
		})
	}
}

// clickhouse.retention is written in days; 0 keeps every row, and a day
// is the least otherwise (whole days are dropped).
func TestClickHouseRetention(t *testing.T) {
	for _, tt := range []struct {
		env  string
		want time.Duration
	}{
		{"7d", 7 * 24 * time.Hour},
		{"0", 0},
		{"24h", 24 * time.Hour},
	} {
		c, err := Load(nil, []string{"STREAMSYNC_SINK__BASE_URL=http://127.0.0.1:8081", "STREAMSYNC_CLICKHOUSE__RETENTION=" + tt.env})
		if err != nil {
			t.Fatalf("%s: %v", tt.env, err)
		}
		if c.ClickHouse.Retention != tt.want {
			t.Errorf("%s: retention %s, want %s", tt.env, c.ClickHouse.Retention, tt.want)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", tt.env, err)
		}
	}
}

// redis.sentinel_master makes redis.addrs the sentinels: three of them are
// not a Cluster, and redis.db may be set (docs/reliability.md).
func TestSentinelAddrsAreNotACluster(t *testing.T) {
	c, err := Load(nil, []string{"STREAMSYNC_SINK__BASE_URL=http://127.0.0.1:8081", "STREAMSYNC_REDIS__SENTINEL_MASTER=mymaster",
		"STREAMSYNC_REDIS__ADDRS=10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379", "STREAMSYNC_REDIS__DB=2"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !c.Redis.IsSentinel() || c.Redis.IsCluster() || len(c.Redis.Nodes()) != 3 {
		t.Fatalf("sentinel %v, cluster %v, nodes %v; want sentinel, not a cluster, three nodes", c.Redis.IsSentinel(), c.Redis.IsCluster(), c.Redis.Nodes())
	}
}

func TestValidateSections(t *testing.T) {
	c := valid()
	c.Sink.BaseURL = ""
	if err := c.Validate(SectionRedis, SectionStream); err != nil {
		t.Fatalf("redis+stream only: %v", err)
	}
	if err := c.Validate(SectionSink); err == nil {
		t.Fatal("sink section: want an error")
	}
	c.ClickHouse = ClickHouseConfig{} // empty addr turns the attempt log off: nothing else is checked
	if err := c.Validate(SectionClickHouse); err != nil {
		t.Fatalf("clickhouse off: %v", err)
	}
}

func TestEnvKey(t *testing.T) {
	tests := map[string]string{
		"STREAMSYNC_SINK__BASE_URL":          "sink.base_url",
		"STREAMSYNC_STREAM__MAX_IN_FLIGHT":   "stream.max_in_flight",
		"STREAMSYNC_CLICKHOUSE__BACKLOG_MAX": "clickhouse.backlog_max",
	}
	for name, want := range tests {
		if got, ok := EnvKey(name); !ok || got != want || !IsKey(got) {
			t.Errorf("EnvKey(%s) = %q, %v; want %q", name, got, ok, want)
		}
	}
	if _, ok := EnvKey("HOME"); ok {
		t.Error("EnvKey(HOME) should not be a setting")
	}
}

func TestEffectiveTokenURL(t *testing.T) {
	s := SinkConfig{BaseURL: "http://p:1/"}
	if got := s.EffectiveTokenURL(); got != "http://p:1/oauth/token" {
		t.Fatalf("got %s", got)
	}
	s.TokenURL = "http://auth/t"
	if got := s.EffectiveTokenURL(); got != "http://auth/t" {
		t.Fatalf("got %s", got)
	}
}

// The example file documents every key, and loads to a valid config.
func TestExampleFile(t *testing.T) {
	ko := koanf.New(".")
	if err := ko.Load(file.Provider("streamsync.example.yaml"), yaml.Parser()); err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		if !ko.Exists(k) {
			t.Errorf("streamsync.example.yaml lacks %s", k)
		}
	}
	c, err := load(t, []string{"--config", "streamsync.example.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("example config invalid: %v", err)
	}
}

// redis.addrs is a list: comma-separated in the environment, a YAML list,
// or a flag; more than one address, or redis.cluster, is a Cluster.
func TestRedisClusterSettings(t *testing.T) {
	c, err := load(t, nil, []string{"STREAMSYNC_REDIS__ADDRS=h1:7001, h2:7002", "STREAMSYNC_STREAM__SHARDS=6"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Redis.Addrs, []string{"h1:7001", "h2:7002"}) || !c.Redis.IsCluster() || c.Stream.Shards != 6 {
		t.Fatalf("redis %+v, shards %d", c.Redis, c.Stream.Shards)
	}
	if err := c.Validate(SectionRedis, SectionStream); err != nil {
		t.Fatal(err)
	}
	c, err = load(t, []string{"--redis.addrs=h1:7001", "--redis.cluster"}, nil)
	if err != nil || !c.Redis.IsCluster() || !reflect.DeepEqual(c.Redis.Nodes(), []string{"h1:7001"}) {
		t.Fatalf("flags: %+v %v", c.Redis, err)
	}
	for _, tc := range []struct {
		env []string
		key string
	}{
		{[]string{"STREAMSYNC_REDIS__ADDRS=h1"}, "redis.addrs"},
		{[]string{"STREAMSYNC_STREAM__SHARDS=0"}, "stream.shards"},
		{[]string{"STREAMSYNC_REDIS__CLUSTER=true", "STREAMSYNC_REDIS__DB=2"}, "redis.db"},
	} {
		c, err := load(t, nil, tc.env)
		if err == nil {
			err = c.Validate(SectionRedis, SectionStream)
		}
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%v: %v, want an error naming %s", tc.env, err, tc.key)
		}
	}
	if _, err := load(t, nil, []string{"STREAMSYNC_REDIS__CLUSTER=maybe"}); err == nil || !strings.Contains(err.Error(), "redis.cluster") {
		t.Errorf("redis.cluster=maybe: %v", err)
	}
}

// Every setting's flag says in --help what it is for, from the comment
// beside it in streamsync.example.yaml.
func TestEveryKeyDescribed(t *testing.T) {
	for _, k := range Keys() {
		if Describe(k) == "" {
			t.Errorf("%s: no comment in streamsync.example.yaml, so its flag has no description", k)
		}
	}
	if got := Describe("stream.consumer"); !strings.Contains(got, "empty means the host name") || !strings.Contains(got, "resumes its own pending entries first") {
		t.Errorf("stream.consumer: %q; want both comment lines", got)
	}
}
