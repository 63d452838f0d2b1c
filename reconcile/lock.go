package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// The one-at-a-time lock (layout.Keys.ReconcileLock) that scheduled runs
// and runs started from the admin API share, across processes: a random
// token SET NX with a TTL, renewed every TTL/3 while a run goes on.

var (
	renewScript = redis.NewScript(`
-- KEYS[1]: lock; ARGV[1]: token; ARGV[2]: TTL ms. Returns 1 when renewed.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)
	releaseScript = redis.NewScript(`
-- KEYS[1]: lock; ARGV[1]: token. Returns 1 when released.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
)

// acquire takes the lock; ok is false when another run holds it.
func acquire(ctx context.Context, rdb redis.UniversalClient, key string, ttl time.Duration) (token string, ok bool, err error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	token = hex.EncodeToString(b)
	ok, err = rdb.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		return "", false, fmt.Errorf("reconcile lock: %w", err)
	}
	return token, ok, nil
}

// release drops the lock when it still holds token.
func release(ctx context.Context, rdb redis.UniversalClient, key, token string) {
	_ = releaseScript.Run(context.WithoutCancel(ctx), rdb, []string{key}, token).Err()
}

// hold renews the lock while the returned context lives; it cancels that
// context (stopping the run) when the lock is lost, or when Redis has not
// confirmed it for two thirds of its TTL: a lock nobody can vouch for may
// have lapsed, and another process may be running by then.
func hold(ctx context.Context, rdb redis.UniversalClient, key, token string, ttl time.Duration, log *slog.Logger) (context.Context, context.CancelFunc) {
	runCtx, cancel := context.WithCancel(ctx)
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
			n, err := renewScript.Run(rctx, rdb, []string{key}, token, ttl.Milliseconds()).Int()
			rcancel()
			switch {
			case err == nil && n == 0:
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
