package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// FieldError is one invalid setting: its key and what is wrong.
type FieldError struct {
	Key    string
	Reason string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Reason }

// Sections a command may validate on its own.
const (
	SectionRedis      = "redis"
	SectionStream     = "stream"
	SectionSink       = "sink"
	SectionRetry      = "retry"
	SectionEvent      = "event"
	SectionDependency = "dependency"
	SectionClickHouse = "clickhouse"
	SectionAdmin      = "admin"
	SectionOtel       = "otel"
	SectionIngest     = "ingest"
	SectionLog        = "log"
	SectionSource     = "source"
	SectionReconcile  = "reconcile"
	SectionOutbox     = "outbox"
	SectionDead       = "dead"
)

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// clusterRe is a ClickHouse cluster name (clickhouse.cluster).
var clusterRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,127}$`)

// tableRe is a PostgreSQL table name, optionally schema-qualified, unquoted.
var tableRe = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Validate checks the named sections, every section when none is named, and
// returns all problems joined, each a *FieldError naming its key.
func (c Config) Validate(sections ...string) error {
	v := &validator{}
	want := func(s string) bool { return len(sections) == 0 || slices.Contains(sections, s) }
	if want(SectionRedis) {
		v.hostPort("redis.addr", c.Redis.Addr, len(c.Redis.Addrs) == 0)
		v.check(c.Redis.DB >= 0, "redis.db", "must be 0 or more")
		for _, a := range c.Redis.Addrs {
			v.hostPort("redis.addrs", a, true)
		}
		v.check(!c.Redis.IsCluster() || c.Redis.DB == 0, "redis.db", "must be 0 on a Redis Cluster (redis.addrs, redis.cluster)")
		v.tlsFiles("redis", c.Redis.TLSFiles())
		if c.Redis.IsSentinel() {
			v.check(!c.Redis.Cluster, "redis.sentinel_master", "cannot be used with redis.cluster: a Sentinel watches one Redis, not a Cluster")
			v.check(len(c.Redis.Addrs) > 0, "redis.addrs", "must list the sentinels (host:port) when redis.sentinel_master is set")
		}
		v.check(c.Redis.WaitReplicas >= 0, "redis.wait_replicas", fmt.Sprintf("must be 0 or more, is %d", c.Redis.WaitReplicas))
		v.check(c.Redis.WaitReplicas == 0 || c.Redis.WaitTimeout > 0, "redis.wait_timeout",
			fmt.Sprintf("must be more than 0 when redis.wait_replicas is set, is %s", c.Redis.WaitTimeout))
	}
	if want(SectionStream) {
		s := c.Stream
		for k, val := range map[string]string{"stream.events": s.Events, "stream.group": s.Group,
			"stream.dead": s.Dead, "stream.delayed": s.Delayed, "stream.retry": s.Retry} {
			v.check(val != "", k, "required")
		}
		v.check(s.Events == "" || (s.Events != s.Dead && s.Events != s.Delayed && s.Events != s.Retry),
			"stream.events", "must differ from stream.dead, stream.delayed and stream.retry")
		v.check(s.Dead == "" || (s.Dead != s.Delayed && s.Dead != s.Retry), "stream.dead", "must differ from stream.delayed and stream.retry")
		v.check(s.Delayed == "" || s.Delayed != s.Retry, "stream.delayed", "must differ from stream.retry")
		v.check(s.Batch >= 1 && s.Batch <= 10000, "stream.batch", fmt.Sprintf("must be 1 to 10000, is %d", s.Batch))
		v.check(s.MaxInFlight >= 1, "stream.max_in_flight", fmt.Sprintf("must be 1 or more, is %d", s.MaxInFlight))
		v.check(s.KeepAcked >= 0, "stream.keep_acked", fmt.Sprintf("must be 0 or more, is %s", s.KeepAcked))
		v.check(s.Shards >= 1 && s.Shards <= 1024, "stream.shards", fmt.Sprintf("must be 1 to 1024, is %d", s.Shards))
		v.check(s.MaxLenHard == 0 || s.MaxLenHard >= 10000, "stream.max_len_hard", fmt.Sprintf("must be 0 (no bound) or at least 10000 entries, is %d", s.MaxLenHard))
	}
	if want(SectionSink) {
		s := c.Sink
		v.check(s.PartnerName != "", "sink.partner_name", "required")
		// A profile may carry its own base_url; sink.base_url, when set, wins.
		// With partners.* entries the partner of sink.* is optional.
		v.httpURL("sink.base_url", s.BaseURL, !s.UsesProfile() && len(c.Partners) == 0)
		if s.UsesProfile() {
			_, err := os.Stat(s.Profile)
			v.check(err == nil, "sink.profile", fmt.Sprintf("must be %q (the built-in partner API) or a profile file: %v", BuiltInProfile, err))
		}
		v.httpURL("sink.token_url", s.TokenURL, false)
		v.check(s.ClientID != "" || s.ClientSecret == "", "sink.client_id", "required when sink.client_secret is set")
		v.check(s.Timeout > 0, "sink.timeout", "must be more than 0")
		v.check(s.RateLimit >= 0, "sink.rate_limit", "must be 0 (no limit) or more")
		v.plainHTTP("sink.base_url", s.BaseURL, s.AllowHTTP)
		v.plainHTTP("sink.token_url", s.TokenURL, s.AllowHTTP)
		v.tlsFiles("sink", s.TLSFiles())
	}
	if want(SectionSink) || want(PartnersSection) {
		v.partners(c)
	}
	if want(SectionRetry) {
		r := c.Retry
		v.check(r.Initial > 0, "retry.initial", "must be more than 0")
		v.check(r.Max >= r.Initial, "retry.max", fmt.Sprintf("must be at least retry.initial (%s)", r.Initial))
		v.check(r.MaxAttempts >= 1 && r.MaxAttempts <= 1000, "retry.max_attempts", fmt.Sprintf("must be 1 to 1000, is %d", r.MaxAttempts))
	}
	if want(SectionEvent) {
		v.check(c.Event.MaxBytes >= 1024 && c.Event.MaxBytes <= 64<<20, "event.max_bytes",
			fmt.Sprintf("must be 1024 to %d, is %d", 64<<20, c.Event.MaxBytes))
	}
	if want(SectionDependency) {
		v.check(c.Dependency.MaxWait >= time.Second, "dependency.max_wait", "must be at least 1s")
	}
	if want(SectionClickHouse) && c.ClickHouse.Addr != "" {
		ch := c.ClickHouse
		v.hostPort("clickhouse.addr", ch.Addr, false)
		v.check(identRe.MatchString(ch.Database), "clickhouse.database", fmt.Sprintf("must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*), is %q", ch.Database))
		v.check(ch.BacklogMax >= 1, "clickhouse.backlog_max", "must be 1 or more")
		v.check(ch.SpoolDir != "", "clickhouse.spool_dir", "required when clickhouse.addr is set")
		v.tlsFiles("clickhouse", ch.TLSFiles())
		v.check(ch.Retention == 0 || ch.Retention >= 24*time.Hour, "clickhouse.retention",
			fmt.Sprintf("must be 0 (keep every row) or at least 1d (whole days are dropped), is %s", ch.Retention))
		v.check(ch.Cluster == "" || clusterRe.MatchString(ch.Cluster), "clickhouse.cluster",
			fmt.Sprintf("must be a cluster of the servers' remote_servers ([A-Za-z_][A-Za-z0-9_.-]*, at most 128 characters) or empty for one server, is %q", ch.Cluster))
	}
	if want(SectionAdmin) {
		a := c.Admin
		v.hostPort("admin.addr", a.Addr, false)
		v.check(a.Addr == "" || a.Token != "" || IsLoopback(a.Addr), "admin.token",
			fmt.Sprintf("required when admin.addr (%s) is not a loopback address (docs/security.md)", a.Addr))
		for _, h := range a.Hosts {
			v.check(h != "" && !strings.ContainsAny(h, "/ \t,"), "admin.hosts", fmt.Sprintf("%q is not a host name or host:port", h))
		}
	}
	if want(SectionOtel) {
		v.httpURL("otel.endpoint", c.Otel.Endpoint, false)
	}
	if want(SectionIngest) {
		v.hostPort("ingest.addr", c.Ingest.Addr, false)
		v.ingestTokens(c.Ingest)
		v.check(c.Ingest.Addr == "" || len(c.Ingest.Tokens) > 0 || IsLoopback(c.Ingest.Addr), "ingest.tokens",
			fmt.Sprintf("required when ingest.addr (%s) is not a loopback address (docs/security.md)", c.Ingest.Addr))
		v.check(c.Ingest.MaxEvents >= 1 && c.Ingest.MaxEvents <= 1000000, "ingest.max_events",
			fmt.Sprintf("must be 1 to 1000000, is %d", c.Ingest.MaxEvents))
		v.check(c.Ingest.MaxBodyBytes >= c.Event.MaxBytes, "ingest.max_body_bytes", fmt.Sprintf("must be at least event.max_bytes (%d)", c.Event.MaxBytes))
		v.check(c.Ingest.PrepareTimeout >= time.Second, "ingest.prepare_timeout", fmt.Sprintf("must be at least 1s, is %s", c.Ingest.PrepareTimeout))
		v.httpURL("ingest.check_url", c.Ingest.CheckURL, false)
		v.check(c.Ingest.CheckMaxAttempts >= 1 && c.Ingest.CheckMaxAttempts <= 1000, "ingest.check_max_attempts",
			fmt.Sprintf("must be 1 to 1000, is %d", c.Ingest.CheckMaxAttempts))
	}
	if want(SectionOutbox) && c.Outbox.DSN != "" {
		o := c.Outbox
		u, err := url.Parse(o.DSN)
		v.check(err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") && u.Host != "", "outbox.dsn",
			"must be a PostgreSQL connection URL (postgres://user:password@host:port/database?sslmode=…)")
		v.check(tableRe.MatchString(o.Table), "outbox.table", fmt.Sprintf("must be a table name ([schema.]name, [A-Za-z_][A-Za-z0-9_]*), is %q", o.Table))
		v.check(o.Batch >= 1 && o.Batch <= 10000, "outbox.batch", fmt.Sprintf("must be 1 to 10000, is %d", o.Batch))
	}
	if want(SectionLog) {
		l := c.Log
		v.check(slices.Contains([]string{"debug", "info", "warn", "error"}, l.Level), "log.level", fmt.Sprintf("must be debug, info, warn or error, is %q", l.Level))
		v.check(slices.Contains([]string{"text", "json"}, l.Format), "log.format", fmt.Sprintf("must be text or json, is %q", l.Format))
	}
	if want(SectionSource) {
		src := c.Source
		v.check(slices.Contains([]string{"none", "http", "file"}, src.Kind), "source.kind", fmt.Sprintf("must be none, http or file, is %q", src.Kind))
		v.httpURL("source.base_url", src.BaseURL, src.Kind == "http")
		v.httpURL("source.token_url", src.TokenURL, false)
		v.plainHTTP("source.base_url", src.BaseURL, c.Sink.AllowHTTP)
		v.plainHTTP("source.token_url", src.TokenURL, c.Sink.AllowHTTP)
		v.tlsFiles("source", src.TLSFiles())
		v.check(src.ClientID != "" || src.ClientSecret == "", "source.client_id", "required when source.client_secret is set")
		v.check(src.Timeout > 0, "source.timeout", "must be more than 0")
		v.check(src.Kind != "file" || src.File != "", "source.file", "required when source.kind is file")
		for _, e := range src.Entities {
			v.check(entityRe.MatchString(e), "source.entities", fmt.Sprintf("%q is not an entity name ([a-z0-9_-]{1,64})", e))
		}
	}
	if want(SectionReconcile) {
		r := c.Reconcile
		v.check(r.Every == 0 || r.Every >= time.Second, "reconcile.every", fmt.Sprintf("must be 0 (off) or at least 1s, is %s", r.Every))
		v.check(r.Every == 0 || c.ClickHouse.Addr != "", "reconcile.every", "needs clickhouse.addr (reconciliation compares in ClickHouse)")
		v.check(!r.Repair || c.Source.Kind != "none", "reconcile.repair", "needs a source (source.kind http or file): repairs send our records")
	}
	if want(SectionDead) {
		v.check(c.Dead.MaxAge >= time.Minute, "dead.max_age", fmt.Sprintf("must be at least 1m, is %s", c.Dead.MaxAge))
	}
	return errors.Join(v.errs...)
}

var entityRe = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// EffectiveTokenURL is sink.token_url, or {base_url}/oauth/token when it is empty.
func (s SinkConfig) EffectiveTokenURL() string {
	if s.TokenURL != "" {
		return s.TokenURL
	}
	return strings.TrimRight(s.BaseURL, "/") + "/oauth/token"
}

type validator struct{ errs []error }

func (v *validator) check(ok bool, key, reason string) {
	if !ok {
		v.errs = append(v.errs, &FieldError{Key: key, Reason: reason})
	}
}

func (v *validator) hostPort(key, val string, required bool) {
	if val == "" {
		v.check(!required, key, "required")
		return
	}
	_, port, err := net.SplitHostPort(val)
	v.check(err == nil && port != "", key, fmt.Sprintf("must be host:port, is %q", val))
}

func (v *validator) httpURL(key, val string, required bool) {
	if val == "" {
		v.check(!required, key, "required")
		return
	}
	u, err := url.Parse(val)
	v.check(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "", key,
		fmt.Sprintf("must be an absolute http(s) URL, is %q", RedactURL(val)))
}

// IsLoopback reports whether a host:port (or a bare host) names a loopback
// address only: localhost, 127.0.0.0/8 or ::1. An empty host (":8090")
// means every interface and is not loopback.
func IsLoopback(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// plainHTTP refuses an http:// URL on a host that is not loopback unless
// allowed by sink.allow_http (docs/security.md, "Transport").
func (v *validator) plainHTTP(key, val string, allowed bool) {
	u, err := url.Parse(val)
	if val == "" || err != nil || u.Scheme != "http" || allowed {
		return
	}
	v.check(IsLoopback(u.Host), "sink.allow_http",
		fmt.Sprintf("%s is plain http:// on a host that is not loopback (%s); use https:// or set sink.allow_http: true", key, u.Host))
}

// tlsFiles checks that a client certificate comes with its key.
func (v *validator) tlsFiles(section string, t TLSFiles) {
	v.check((t.CertFile == "") == (t.KeyFile == ""), section+".tls_cert_file",
		"needs "+section+".tls_key_file, and the other way round")
}

var producerNameRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// ingestTokens checks ingest.tokens (and what ingest.tokens_file added):
// "name:token" each, names and tokens unique. Errors name the entry by its
// position and producer name, never by its token.
func (v *validator) ingestTokens(i IngestConfig) {
	names, tokens := map[string]bool{}, map[string]bool{}
	for n, t := range i.Tokens {
		name, tok, ok := strings.Cut(t, ":")
		name, tok = strings.TrimSpace(name), strings.TrimSpace(tok)
		if !ok || !producerNameRe.MatchString(name) || tok == "" {
			v.check(false, "ingest.tokens", fmt.Sprintf("entry %d must be name:token with a name of [A-Za-z0-9_.-]{1,64} and a token", n+1))
			continue
		}
		v.check(!names[name], "ingest.tokens", fmt.Sprintf("producer %q is listed twice", name))
		v.check(!tokens[tok], "ingest.tokens", fmt.Sprintf("producer %q has the same token as another producer", name))
		names[name], tokens[tok] = true, true
	}
}
