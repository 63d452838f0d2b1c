package main

import (
	"context"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/deadarchive"
	"github.com/streamsync/streamsync/internal/layout"
)

// startDeadArchive runs the dead-letter archive beside the pipeline
// (docs/operations.md, "Old dead letters are archived"): every few minutes
// one process moves the dead letters older than dead.max_age to ClickHouse
// (conn; nil without clickhouse.addr) and then out of Redis. Without
// ClickHouse nothing is trimmed, and start-up says so.
func startDeadArchive(e *env, rdb redis.UniversalClient, conn driver.Conn, shards layout.Shards, consumer string, reg prometheus.Registerer) (stop func(), err error) {
	var store deadarchive.Store
	if conn != nil {
		store = deadarchive.NewClickHouseStore(conn, e.cfg.ClickHouse.Database)
	}
	a, err := deadarchive.New(deadarchive.Config{Shards: shards, MaxAge: e.cfg.Dead.MaxAge, LockKey: shards[0].DeadArchiveLock(),
		Instance: consumer, Store: store, Logger: e.log, Registerer: reg}, rdb)
	if err != nil {
		return nil, err
	}
	if !a.Enabled() {
		e.log.Warn("dead letters are not archived: clickhouse.addr is empty, so the dead-letter stream keeps every dead letter until it is replayed or dropped (dead.max_age applies only with ClickHouse)",
			"dead_max_age", e.cfg.Dead.MaxAge)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Run(ctx)
	}()
	return func() { cancel(); <-done }, nil
}
