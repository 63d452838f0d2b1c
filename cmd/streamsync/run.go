package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/admin"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/apiclient"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/pipeline"
	"github.com/streamsync/streamsync/pipeline/ordered"
	"github.com/streamsync/streamsync/reconcile"
	"github.com/streamsync/streamsync/sinks/attemptlog"
	"github.com/streamsync/streamsync/sinks/partner"
	"github.com/streamsync/streamsync/tracing"
)

// defaultGCPercent is the Go collector's GOGC for `streamsync run` when the
// environment sets none: the pipeline's live heap is small and its garbage
// per event large, so Go's default of 100 collects very often: 200 took
// about 10 % less CPU per event in the peer benchmark, and 400 no less than
// 200 for twice the memory (docs/operations.md).
const defaultGCPercent = 200

func runPipeline(ctx context.Context, e *env) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	cfg := e.cfg
	rdb, err := newRedis(cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	if err := pingRedis(ctx, rdb, cfg.Redis); err != nil {
		return err
	}
	shards := shardsOf(cfg)
	keys := shards[0]
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// lag, pending, delayed, retrying, dead, step counts: read from Redis on
	// scrape, summed over the shards.
	gauges, err := pipeline.NewGauges(pipeline.GaugesConfig{Shards: shards, Logger: e.log}, rdb)
	if err != nil {
		return err
	}
	reg.MustRegister(gauges)

	// A name the user set is refused when another running process has it; a
	// default one (the host name) becomes host-2, host-3, … by itself.
	name, err := pipeline.TakeConsumerName(ctx, rdb, shards, pipeline.NameConfig{Name: consumerName(cfg.Stream), Auto: cfg.Stream.Consumer == "", Logger: e.log})
	if err != nil {
		return err
	}
	defer name.Release()
	consumer := name.Name()
	tp, err := tracing.NewProvider(tracing.Config{Endpoint: cfg.Otel.Endpoint, Instance: consumer})
	if err != nil {
		return err
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(c) // the spans still batched go out
	}()
	sinkTLS, err := tlsFor("sink", cfg.Sink.TLSFiles())
	if err != nil {
		return err
	}
	sink, err := partner.New(partner.Config{
		TLS:     sinkTLS,
		BaseURL: cfg.Sink.BaseURL, TokenURL: cfg.Sink.EffectiveTokenURL(), ClientID: cfg.Sink.ClientID, ClientSecret: cfg.Sink.ClientSecret,
		Timeout: cfg.Sink.Timeout, RateLimit: cfg.Sink.RateLimit, MaxConns: cfg.Stream.MaxInFlight, Logger: e.log,
		WrapTransport: tracing.New(tp).Transport,
		Registerer:    reg,
	})
	if err != nil {
		return err
	}
	defer sink.Close()
	src, err := openSource(cfg.Source, e.log)
	if err != nil {
		return err
	}
	defer src.Close()
	p, err := pipeline.New(pipeline.Config{
		Shards: shards, Name: name, Instance: consumer,
		Subscriber:  ordered.Config{Batch: cfg.Stream.Batch, MaxInFlight: cfg.Stream.MaxInFlight},
		PartnerName: cfg.Sink.PartnerName,
		Limits:      event.Limits{MaxBytes: cfg.Event.MaxBytes},
		Retry:       handlers.RetryPolicy{Initial: cfg.Retry.Initial, Max: cfg.Retry.Max, MaxAttempts: cfg.Retry.MaxAttempts},
		MaxWait:     cfg.Dependency.MaxWait,
		LeaseTTL:    2 * cfg.Sink.Timeout,
		AttemptLog:  cfg.ClickHouse.Addr != "",
		Records:     recordReader(src),
		Tracing:     tp,
		Logger:      e.log, Registerer: reg,
	}, rdb, pipeline.PartnerSender(sink))
	if err != nil {
		return err
	}
	ops := pipeline.DeadOps{RDB: rdb, Shards: shards, Instance: consumer, AttemptLog: cfg.ClickHouse.Addr != ""}
	var chains admin.ChainLister
	var reconcileRuns, reconcileStart http.Handler
	var chConn driver.Conn // nil without ClickHouse
	if ch := cfg.ClickHouse; ch.Addr != "" {
		conn, err := openClickHouse(ch)
		if err != nil {
			return err
		}
		defer conn.Close()
		chConn = conn
		stop, err := startExporters(e, rdb, conn, shards, consumer, reg)
		if err != nil {
			return err
		}
		defer stop()
		chains = attemptlog.ChainSource{Conn: conn, Database: ch.Database}
		reconcileRuns = reconcile.RunsHandler(conn, ch.Database)
		var stopStart func()
		if reconcileStart, stopStart, err = reconcileStarter(e, keys); err != nil {
			return err
		}
		defer stopStart()
	}
	if cfg.Admin.Addr != "" {
		api, err := consoleAPI(ctx, e, rdb, keys, ops, chains, withReconcileRuns(admin.NewAPI(ops, chains, e.log), reconcileRuns, reconcileStart))
		if err != nil {
			return err
		}
		srv, err := admin.New(admin.Config{Addr: cfg.Admin.Addr, Token: cfg.Admin.Token, Hosts: cfg.Admin.Hosts}, p.Ready, reg, api, e.log)
		if err != nil {
			return err
		}
		if err := srv.Start(); err != nil {
			return err
		}
		defer func() {
			c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Close(c)
		}()
	}
	stopIngest, err := startIngest(e, rdb, shards, consumer, reg)
	if err != nil {
		return err
	}
	defer stopIngest()
	if cfg.Reconcile.Every > 0 {
		stop, err := startReconcile(e, keys, reg)
		if err != nil {
			return err
		}
		defer stop()
	}
	stopOutbox, err := startOutbox(e, rdb, keys, consumer, reg)
	if err != nil {
		return err
	}
	defer stopOutbox()
	summaryCtx, stopSummary := context.WithCancel(ctx)
	defer stopSummary()
	go summarize(summaryCtx, e, rdb, shards)
	for _, k := range shards {
		trimmer, err := pipeline.NewTrimmer(pipeline.TrimConfig{Stream: k.Events, KeepAcked: cfg.Stream.KeepAcked, Logger: e.log}, rdb)
		if err != nil {
			return err
		}
		go trimmer.Run(summaryCtx) // acked entries older than stream.keep_acked leave the events stream
	}
	stopArchive, err := startDeadArchive(e, rdb, chConn, shards, consumer, reg) // dead letters older than dead.max_age: to ClickHouse, then out of Redis
	if err != nil {
		return err
	}
	defer stopArchive()
	reporterDone := make(chan struct{})
	go func() {
		defer close(reporterDone)
		pipeline.PartnerReporter{RDB: rdb, Keys: keys, Instance: consumer, Sink: sink, Logger: e.log}.Run(summaryCtx)
	}()
	defer func() { stopSummary(); <-reporterDone }()
	e.log.Info("streamsync running", "events", keys.Events, "shards", len(shards), "redis_cluster", cfg.Redis.IsCluster(), "group", keys.Group, "consumer", consumer, "partner", apiclient.RedactURL(cfg.Sink.BaseURL),
		"attempt_log", cfg.ClickHouse.Addr != "")
	if err := p.Run(ctx); err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	e.log.Info("streamsync stopped")
	return nil
}

// summarize logs one line of counters every few seconds while anything moves.
func summarize(ctx context.Context, e *env, rdb redis.UniversalClient, shards layout.Shards) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	var last pipeline.Status
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s, err := pipeline.ReadShardsStatus(ctx, rdb, shards)
		if err != nil {
			continue
		}
		s.Partner = nil // logged by the sink when it changes
		if fmt.Sprint(s) == fmt.Sprint(last) {
			continue
		}
		last = s
		// Counts since the step counters began (_total) beside what waits right now (_now).
		e.log.Info("summary", "delivered_total", s.Steps["delivered"],
			"skipped_total", s.Steps["skipped_stale"]+s.Steps["skipped_unchanged"]+s.Steps["skipped_loop"],
			"parked_total", s.Steps["parked"], "retries_total", s.Steps["retry_scheduled"], "replayed_total", s.Steps["replayed"],
			"dead_now", s.Dead, "lag_now", s.Lag, "pending_now", s.Pending, "delayed_now", s.Delayed, "retrying_now", s.Retrying)
	}
}

// startExporters runs the attempt-log exporter of every shard beside the
// pipeline; the pipeline never waits on them. With more than one shard each
// has its own spool directory (spool_dir/shard-N) and its metrics carry a
// shard label.
func startExporters(e *env, rdb redis.UniversalClient, conn driver.Conn, shards layout.Shards, consumer string, reg prometheus.Registerer) (func(), error) {
	ch := e.cfg.ClickHouse
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	stop := func() { cancel(); wg.Wait() }
	for i, keys := range shards {
		spool, r, rowPrefix := ch.SpoolDir, reg, ""
		if len(shards) > 1 {
			rowPrefix = fmt.Sprintf("%d/", i)
			spool = filepath.Join(ch.SpoolDir, fmt.Sprintf("shard-%d", i))
			r = prometheus.WrapRegistererWith(prometheus.Labels{"shard": strconv.Itoa(i)}, reg)
		}
		x, err := attemptlog.NewExporter(attemptlog.ExporterConfig{Stream: keys.Attempts, RowIDPrefix: rowPrefix, Consumer: consumer, Database: ch.Database,
			BacklogMax: ch.BacklogMax, SpoolDir: spool, Logger: e.log, Registerer: r}, rdb, conn)
		if err != nil {
			stop()
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := x.Run(ctx); err != nil {
				e.log.Error("attempt-log exporter stopped", "stream", keys.Attempts, "err", err)
			}
		}()
	}
	return stop, nil
}
