package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/lease"
)

// The one-at-a-time lock (layout.Keys.ReconcileLock) that scheduled runs
// and runs started from the admin API share, across processes: a lease
// (package internal/lease) held under a random token, renewed every TTL/3
// while a run goes on.

// acquire takes the lock; ok is false when another run holds it.
func acquire(ctx context.Context, rdb redis.UniversalClient, key string, ttl time.Duration) (token string, ok bool, err error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	token = hex.EncodeToString(b)
	ok, err = lease.New(rdb, key, token, ttl).Take(ctx)
	if err != nil {
		return "", false, fmt.Errorf("reconcile lock: %w", err)
	}
	return token, ok, nil
}

// release drops the lock when it still holds token.
func release(ctx context.Context, rdb redis.UniversalClient, key, token string) {
	_, _ = lease.New(rdb, key, token, 0).Release(context.WithoutCancel(ctx))
}

// hold renews the lock while the returned context lives; it cancels that
// context (stopping the run) when the lock is lost, or when Redis has not
// confirmed it for two thirds of its TTL: a lock nobody can vouch for may
// have lapsed, and another process may be running by then.
func hold(ctx context.Context, rdb redis.UniversalClient, key, token string, ttl time.Duration, log *slog.Logger) (context.Context, context.CancelFunc) {
	runCtx, cancel := context.WithCancel(ctx)
	l := lease.New(rdb, key, token, ttl)
	go func() {
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		held := time.Now() // when the lock was last known held
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			at := time.Now()
			rctx, rcancel := context.WithTimeout(runCtx, ttl/3)
			ok, err := l.Renew(rctx)
			rcancel()
			switch {
			case err == nil && !ok:
				log.Error("reconcile lock lost; stopping the run")
				cancel()
				return
			case err == nil:
				held = at
			case time.Since(held) >= 2*ttl/3 && runCtx.Err() == nil:
				log.Error("reconcile lock not renewed (Redis does not answer); stopping the run", "err", err)
				cancel()
				return
			}
		}
	}()
	return runCtx, cancel
}
