package ingest

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/replicas"
)

// ErrNotReplicated is a write that Redis has but fewer replicas than
// Replicas.N acknowledged within Replicas.Timeout: the ingest answers 503 (the
// producer resends; the duplicate is skipped as stale) and the outbox keeps
// its rows (docs/reliability.md, "Waiting for replicas"). It is
// replicas.ErrNotReplicated.
var ErrNotReplicated = replicas.ErrNotReplicated

// Replicas is how many replicas must have a write before a producer is told
// it is stored (redis.wait_replicas; 0: none) and how long to wait for them
// (redis.wait_timeout). Redis' WAIT counts the writes of the connection it
// is sent on, so the writes and the WAIT go on one connection.
type Replicas struct {
	N       int
	Timeout time.Duration
}

// exec sends the commands fill queues as one pipeline (MULTI/EXEC when tx)
// to the Redis that holds key, then, with r.N > 0, WAITs on the same
// connection for r.N replicas; it returns the commands' first error, or
// ErrNotReplicated (wrapped, with the count) when fewer replicas answered.
func (r Replicas) exec(ctx context.Context, rdb redis.UniversalClient, key string, tx bool, fill func(redis.Pipeliner) error) error {
	if r.N <= 0 {
		pipe := rdb.Pipeline()
		if tx {
			pipe = rdb.TxPipeline()
		}
		if err := fill(pipe); err != nil {
			return err
		}
		_, err := pipe.Exec(ctx)
		return err
	}
	return r.onConn(ctx, rdb, key, func(conn *redis.Conn) error {
		pipe := conn.Pipeline()
		if tx {
			pipe = conn.TxPipeline()
		}
		if err := fill(pipe); err != nil {
			return err
		}
		_, err := pipe.Exec(ctx)
		return err
	})
}

// onConn runs fn on one connection to the Redis (the Cluster master) that
// holds key, then WAITs there for r.N replicas (internal/replicas).
func (r Replicas) onConn(ctx context.Context, rdb redis.UniversalClient, key string, fn func(*redis.Conn) error) error {
	return replicas.Wait(r).OnConn(ctx, rdb, key, fn)
}
