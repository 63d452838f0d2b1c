package main

import (
	"context"

	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// newRetention drops the attempt log's days older than clickhouse.retention
// (docs/operations.md, "Retention"): soon after start and then hourly, one
// process of the deployment at a time. Off without ClickHouse; with
// retention 0 every row is kept, and start-up says so.
func newRetention(p *runProcess) (component, error) {
	if p.ch == nil {
		return nil, nil
	}
	ch := p.cfg.ClickHouse
	cl, err := clickHouseCluster(ch)
	if err != nil {
		return nil, err
	}
	r, err := attemptlog.NewRetainer(attemptlog.RetentionConfig{Database: ch.Database, Retention: ch.Retention, Cluster: cl,
		LockKey: p.shards[0].RetentionLock(), Instance: p.consumer, Logger: p.log, Registerer: p.reg}, p.rdb, p.ch)
	if err != nil {
		return nil, err
	}
	run := &background{run: r.Run}
	return funcs{
		start: func(ctx context.Context) error {
			if !r.Enabled() {
				p.log.Info("the attempt log keeps every row: clickhouse.retention is 0")
			}
			return run.Start(ctx)
		},
		stop: run.Stop,
	}, nil
}

// newSealer stores latency_per_minute's answer for the attempt log's whole
// minutes once they stop changing (docs/operations.md, "Tables derived from
// the attempts"), one process of the deployment at a time. Off without
// ClickHouse.
func newSealer(p *runProcess) (component, error) {
	if p.ch == nil {
		return nil, nil
	}
	s, err := attemptlog.NewSealer(attemptlog.SealerConfig{Database: p.cfg.ClickHouse.Database,
		LockKey: p.shards[0].SealerLock(), Instance: p.consumer, Logger: p.log, Registerer: p.reg}, p.rdb, p.ch)
	if err != nil {
		return nil, err
	}
	run := &background{run: s.Run}
	return funcs{start: run.Start, stop: run.Stop}, nil
}
