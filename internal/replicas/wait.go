package replicas

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotReplicated is a write that Redis has but fewer replicas than Wait.N
// acknowledged within Wait.Timeout: the ingest answers 503, the outbox
// keeps its rows, and a create whose hold is not replicated is not sent
// (docs/reliability.md, "Waiting for replicas", "After a rollback").
var ErrNotReplicated = errors.New("not on enough replicas in time (redis.wait_replicas, redis.wait_timeout)")

// Wait is how many replicas must acknowledge a write (redis.wait_replicas;
// 0: none, nothing is waited for) and how long to wait for them
// (redis.wait_timeout).
type Wait struct {
	N       int
	Timeout time.Duration
}

// Node is the Redis that holds key: rdb itself (a single Redis or a
// Sentinel's failover client), or the Cluster master of key's slot. Any
// other client is an error: it cannot give one connection for the writes
// and their WAIT.
func Node(ctx context.Context, rdb redis.UniversalClient, key string) (*redis.Client, error) {
	switch c := rdb.(type) {
	case *redis.Client:
		return c, nil
	case *redis.ClusterClient:
		return c.MasterForKey(ctx, key)
	}
	return nil, fmt.Errorf("redis.wait_replicas needs one connection for the writes and their WAIT, which a %T cannot give", rdb)
}

// Await WAITs on conn, which made the writes, for w.N replicas (at most
// w.Timeout); it returns an error wrapping ErrNotReplicated, with the
// count, when fewer answered. With w.N ≤ 0 it returns nil at once.
func (w Wait) Await(ctx context.Context, conn *redis.Conn) error {
	if w.N <= 0 {
		return nil
	}
	n, err := conn.Wait(ctx, w.N, w.Timeout).Result()
	if err != nil {
		return fmt.Errorf("wait for %d replicas: %w", w.N, err)
	}
	if int(n) < w.N {
		return fmt.Errorf("%d of %d replicas within %s: %w", n, w.N, w.Timeout, ErrNotReplicated)
	}
	return nil
}

// OnConn runs fn on one connection to the Redis that holds key (Node),
// then Awaits w.N replicas there; fn's error is returned as it is, with no
// WAIT.
func (w Wait) OnConn(ctx context.Context, rdb redis.UniversalClient, key string, fn func(*redis.Conn) error) error {
	node, err := Node(ctx, rdb, key)
	if err != nil {
		return err
	}
	conn := node.Conn()
	defer conn.Close()
	if err := fn(conn); err != nil {
		return err
	}
	return w.Await(ctx, conn)
}
