package main

import (
	"context"

	"github.com/streamsync/streamsync/deadarchive"
)

// newDeadArchive is the dead-letter archive (docs/operations.md, "Old dead
// letters are archived"): every few minutes one process moves the dead
// letters older than dead.max_age to ClickHouse and then out of Redis.
// Without ClickHouse nothing is trimmed, and start-up says so.
func newDeadArchive(p *runProcess) (component, error) {
	var store deadarchive.Store
	if p.ch != nil {
		store = deadarchive.NewClickHouseStore(p.ch, p.cfg.ClickHouse.Database)
	}
	a, err := deadarchive.New(deadarchive.Config{Shards: p.allShards(), MaxAge: p.cfg.Dead.MaxAge, LockKey: p.shards[0].DeadArchiveLock(),
		Instance: p.consumer, Store: store, Logger: p.log, Registerer: p.reg}, p.rdb)
	if err != nil {
		return nil, err
	}
	run := &background{run: a.Run}
	return funcs{
		start: func(ctx context.Context) error {
			if !a.Enabled() {
				p.log.Warn("dead letters are not archived: clickhouse.addr is empty, so the dead-letter stream keeps every dead letter until it is replayed or dropped (dead.max_age applies only with ClickHouse)",
					"dead_max_age", p.cfg.Dead.MaxAge)
			}
			return run.Start(ctx)
		},
		stop: run.Stop,
	}, nil
}
