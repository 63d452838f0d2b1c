package reconcile

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/testenv"
)

// A run stops when its lock cannot be renewed because Redis does not
// answer: after a while nobody can vouch for the lock, which may have
// lapsed and been taken by another process.
func TestLockUnconfirmedStopsTheRun(t *testing.T) {
	rdb := testenv.Redis(t)
	key := testenv.Prefix(t) + "lock"
	ctx := context.Background()
	t.Cleanup(func() { rdb.Del(ctx, key) })
	const ttl = 600 * time.Millisecond
	token, ok, err := acquire(ctx, rdb, key, ttl)
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	// The same Redis, reached through a listener that drops every
	// connection: every renewal fails.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	away := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer away.Close()
	runCtx, cancel := hold(ctx, away, key, token, ttl, slog.New(slog.DiscardHandler))
	defer cancel()
	select {
	case <-runCtx.Done():
	case <-time.After(10 * ttl):
		t.Fatal("the run goes on with a lock Redis has not confirmed for ten times its TTL")
	}
}
