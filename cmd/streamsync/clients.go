package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/config"
	"github.com/streamsync/streamsync/internal/idmap"
	"github.com/streamsync/streamsync/partnerread"
	"github.com/streamsync/streamsync/sinks/attemptlog"
	"github.com/streamsync/streamsync/sinks/partner"
	"github.com/streamsync/streamsync/source"
)

// The clients every command builds from its settings, one function a kind:
// Redis (newRedis, in redis.go, with its ping and hints), ClickHouse
// (openClickHouse), our source (sourceConfig, openSource), the partner's
// read API (partnerReader) and the partner sink (newSink). Each takes the
// TLS of its section (tlsFor).

// connectRedis is newRedis once Redis has answered (pingRedis); the caller
// closes it.
func connectRedis(ctx context.Context, c config.RedisConfig) (redis.UniversalClient, error) {
	rdb, err := newRedis(c)
	if err != nil {
		return nil, err
	}
	if err := pingRedis(ctx, rdb, c); err != nil {
		_ = rdb.Close()
		return nil, err
	}
	return rdb, nil
}

// openClickHouse connects to the attempt log's ClickHouse as clickhouse.*
// says, over TLS when clickhouse.tls or a clickhouse.tls_*_file asks for it
// (docs/security.md, "Transport"), with at most conns connections open at
// once (0: attemptlog.DefaultMaxOpenConns). It dials lazily; the error
// names a TLS file that cannot be used.
func openClickHouse(ch config.ClickHouseConfig, conns int) (driver.Conn, error) {
	tc, err := tlsFor("clickhouse", ch.TLSFiles())
	if err != nil {
		return nil, err
	}
	return attemptlog.Open(clickHouseOptions(ch, tc, conns))
}

// clickHouseOptions are the attempt log's connection options of
// clickhouse.*, clickhouse.cluster included (its Sharding reaches each
// server of the cluster with the same credentials and TLS).
func clickHouseOptions(ch config.ClickHouseConfig, tc *tls.Config, conns int) attemptlog.Options {
	return attemptlog.Options{Addr: ch.Addr, Database: ch.Database, Username: ch.Username, Password: ch.Password, TLS: tc,
		MaxOpenConns: conns, Cluster: ch.Cluster}
}

// clickHouseCluster is the attempt log's Cluster of clickhouse.cluster
// (the zero Cluster without it); the error names a TLS file that cannot
// be used.
func clickHouseCluster(ch config.ClickHouseConfig) (attemptlog.Cluster, error) {
	if ch.Cluster == "" {
		return attemptlog.Cluster{}, nil
	}
	tc, err := tlsFor("clickhouse", ch.TLSFiles())
	if err != nil {
		return attemptlog.Cluster{}, err
	}
	return clickHouseOptions(ch, tc, 0).Sharding(), nil
}

// openAttemptLog is openClickHouse once the attempt log's schema is there
// (the analysts' commands read it), rows from before the partner column
// reading as oldRowsPartner's (sink.partner_name); errors name
// clickhouse.addr. The caller closes it.
func openAttemptLog(ctx context.Context, ch config.ClickHouseConfig, oldRowsPartner string) (driver.Conn, error) {
	conn, err := openClickHouse(ch, 0)
	if err != nil {
		return nil, err
	}
	cl, err := clickHouseCluster(ch)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	if err := attemptlog.EnsureSchemaWith(ctx, conn, ch.Database, attemptlog.SchemaOptions{OldRowsPartner: oldRowsPartner, Cluster: cl}); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("clickhouse.addr %s: %w", ch.Addr, err)
	}
	return conn, nil
}

// openSource builds the source source.* configures (docs/reconcile.md).
func openSource(c config.SourceConfig, log *slog.Logger) (source.Source, error) {
	sc, err := sourceConfig(c, log)
	if err != nil {
		return nil, err
	}
	return source.New(sc)
}

// sourceConfig is the source.Config of source.*, its TLS included.
func sourceConfig(c config.SourceConfig, log *slog.Logger) (source.Config, error) {
	tc, err := tlsFor("source", c.TLSFiles())
	if err != nil {
		return source.Config{}, err
	}
	return source.Config{Kind: c.Kind, BaseURL: c.BaseURL, TokenURL: c.TokenURL, ClientID: c.ClientID,
		ClientSecret: c.ClientSecret, Timeout: c.Timeout, File: c.File, Entities: c.Entities, Logger: log, TLS: tc}, nil
}

// partnerReader reads the partner's records through its read API (docs/partner-api.md) with
// the sink's settings (sink.*, its TLS included); errors name the partner
// and sink.*, not the source.
//
// With sink.profile it reads through the profile (docs/partners.md,
// "Reads"): ids, when set, is the id map a point read by the partner's id
// looks in.
func partnerReader(c config.SinkConfig, log *slog.Logger, ids func(ctx context.Context, entity, key string) (string, error)) (source.Source, error) {
	tc, err := tlsFor("sink", c.TLSFiles())
	if err != nil {
		return nil, err
	}
	if c.UsesProfile() {
		p, err := loadProfile(c)
		if err != nil {
			return nil, err
		}
		return partnerread.New(partnerread.Config{Profile: p, Timeout: c.Timeout, TLS: tc, IDs: ids, Logger: log})
	}
	return source.New(source.Config{Kind: source.KindHTTP, BaseURL: c.BaseURL, TokenURL: c.EffectiveTokenURL(),
		ClientID: c.ClientID, ClientSecret: c.ClientSecret, Timeout: c.Timeout, Logger: log, TLS: tc,
		Label: "partner", Setting: "sink"})
}

// newSink is the partner sink of c (sink.*, a partners entry or ours.*), its TLS included, with a
// connection for each event stream.max_in_flight allows in flight; wrap
// (tracing) wraps its transport, and its metrics go to reg.
//
// With sink.profile the sink speaks the profile's API (docs/partners.md),
// keeping the ids the partner assigns in ids.
func newSink(cfg config.Config, c config.SinkConfig, log *slog.Logger, wrap func(http.RoundTripper) http.RoundTripper, reg prometheus.Registerer, ids idmap.Map) (*partner.Sink, error) {
	tc, err := tlsFor(cmp.Or(c.Setting, "sink"), c.TLSFiles())
	if err != nil {
		return nil, err
	}
	pc := partner.Config{
		Settings: cmp.Or(c.Setting, "sink"),
		TLS:      tc,
		BaseURL:  c.BaseURL, TokenURL: c.EffectiveTokenURL(), ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		Timeout: c.Timeout, RateLimit: c.RateLimit, MaxConns: cfg.Stream.MaxInFlight, Logger: log,
		WrapTransport: wrap,
		Registerer:    reg,
	}
	if c.UsesProfile() {
		if pc.Profile, err = loadProfile(c); err != nil {
			return nil, err
		}
		pc.BaseURL, pc.TokenURL, pc.ClientID, pc.ClientSecret = pc.Profile.BaseURL, "", "", ""
		pc.IDs = ids
	}
	return partner.New(pc)
}
