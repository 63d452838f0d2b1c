package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/outbox"
)

// startOutbox runs the outbox relay (contract §8) beside the pipeline when
// outbox.dsn is set; the returned func stops it and closes its pool.
func startOutbox(e *env, rdb redis.UniversalClient, keys layout.Keys, consumer string, reg prometheus.Registerer) (func(), error) {
	cfg := e.cfg
	if cfg.Outbox.DSN == "" {
		return func() {}, nil
	}
	pool, err := pgxpool.New(context.Background(), cfg.Outbox.DSN)
	if err != nil {
		return nil, fmt.Errorf("outbox.dsn: %w", err)
	}
	r, err := outbox.NewRelay(outbox.Config{Table: cfg.Outbox.Table, Batch: cfg.Outbox.Batch, Keys: keys, Route: shardsOf(cfg).Stream,
		Limits: event.Limits{MaxBytes: cfg.Event.MaxBytes}, Instance: consumer, AttemptLog: cfg.ClickHouse.Addr != "",
		Logger: e.log, Registerer: reg}, pool, rdb)
	if err != nil {
		pool.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.Run(ctx)
	}()
	return func() { cancel(); <-done; pool.Close() }, nil
}
