package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/outbox"
)

// newOutbox is the outbox relay (docs/producers.md), on when outbox.dsn is set;
// its pool is closed with the process.
func newOutbox(p *runProcess) (component, error) {
	cfg := p.cfg
	if cfg.Outbox.DSN == "" {
		return nil, nil
	}
	pool, err := pgxpool.New(context.Background(), cfg.Outbox.DSN)
	if err != nil {
		return nil, fmt.Errorf("outbox.dsn: %w", err)
	}
	p.onClose(pool.Close)
	r, err := outbox.NewRelay(outbox.Config{Table: cfg.Outbox.Table, Batch: cfg.Outbox.Batch, Keys: p.shards[0], Route: p.shards.Stream,
		Replicas: replicasOf(cfg.Redis),
		Limits:   event.Limits{MaxBytes: cfg.Event.MaxBytes}, Instance: p.consumer, AttemptLog: p.attemptLog(),
		Logger: p.log, Registerer: p.reg}, pool, p.rdb)
	if err != nil {
		return nil, err
	}
	return &background{run: func(ctx context.Context) { _ = r.Run(ctx) }}, nil
}
