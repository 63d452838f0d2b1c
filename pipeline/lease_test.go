package pipeline

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/lease"
	"github.com/streamsync/streamsync/internal/testenv"
)

// After a long wait (a process paused past its lease), a partner call
// asks Redis whether the account's lease is still this run's; once it was
// found not to be, no later call goes, even if the lease comes back.
func TestLeaseCheckAfterAStall(t *testing.T) {
	rdb := testenv.Redis(t)
	key := testenv.Prefix(t) + "lease"
	ctx := context.Background()
	t.Cleanup(func() { rdb.Del(ctx, key) })
	const ttl = 3 * time.Second
	rdb.Set(ctx, key, "run-a", ttl)
	lc := &leaseCheck{lease: lease.New(rdb, key, "run-a", ttl), at: time.Now()}
	rdb.Set(ctx, key, "run-b", ttl) // taken meanwhile, but known held a moment ago
	if err := lc.Check(ctx); err != nil {
		t.Fatalf("a lease known held a moment ago is asked about: %v", err)
	}
	lc.at = time.Now().Add(-ttl) // a stall
	rdb.Set(ctx, key, "run-a", ttl)
	if err := lc.Check(ctx); err != nil || time.Since(lc.at) > time.Second {
		t.Fatalf("after a stall, a lease still held does not count as held: %v", err)
	}
	lc.at = time.Now().Add(-ttl)
	rdb.Set(ctx, key, "run-b", ttl)
	if err := lc.Check(ctx); !errors.Is(err, errLeaseGone) {
		t.Fatalf("after a stall, a lease another run holds: %v; want errLeaseGone", err)
	}
	rdb.Set(ctx, key, "run-a", ttl)
	if err := lc.Check(ctx); !errors.Is(err, errLeaseGone) {
		t.Fatalf("a lease found lost counts as held again: %v", err)
	}
}

// A renewal that fails (the lease is another run's by then) stops every
// later call of the delivery, even if the lease is this run's again by
// the time of the call and was known held a moment before.
func TestFailedRenewalStopsTheCalls(t *testing.T) {
	rdb := testenv.Redis(t)
	key := testenv.Prefix(t) + "lease"
	ctx := context.Background()
	t.Cleanup(func() { rdb.Del(ctx, key) })
	const ttl = 600 * time.Millisecond
	rdb.Set(ctx, key, "run-a", ttl)
	lc := &leaseCheck{lease: lease.New(rdb, key, "run-a", ttl), at: time.Now()}
	var renewals atomic.Int32
	stop := lc.lease.Keep(func(ok bool, at time.Time) {
		lc.renewed(ok, at)
		renewals.Add(1)
	})
	defer stop()
	testenv.WaitFor(t, 5*time.Second, "a renewal", func() bool { return renewals.Load() >= 1 })
	if err := lc.Check(ctx); err != nil {
		t.Fatalf("after a renewal: %v", err)
	}
	rdb.Set(ctx, key, "run-b", time.Minute)
	n := renewals.Load()
	testenv.WaitFor(t, 5*time.Second, "a renewal that fails", func() bool { return renewals.Load() > n })
	rdb.Set(ctx, key, "run-a", time.Minute) // back, and fresh: a check of Redis alone would pass
	lc.mu.Lock()
	lc.at = time.Now()
	lc.mu.Unlock()
	if err := lc.Check(ctx); !errors.Is(err, errLeaseGone) {
		t.Fatalf("a call after a failed renewal: %v; want errLeaseGone", err)
	}
}

// Redis not answering is "cannot tell", and that is "not held": the call
// does not go. The Redis behind a proxy the test cuts.
func TestLeaseCannotTellIsNotHeld(t *testing.T) {
	rdb := testenv.Redis(t)
	key := testenv.Prefix(t) + "lease"
	ctx := context.Background()
	t.Cleanup(func() { rdb.Del(ctx, key) })
	const ttl = 3 * time.Second
	rdb.Set(ctx, key, "run-a", ttl)
	px := newCutProxy(t, testenv.RedisAddr(t))
	via := redis.NewClient(&redis.Options{Addr: px.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { via.Close() })
	lc := &leaseCheck{lease: lease.New(via, key, "run-a", ttl), at: time.Now().Add(-ttl)}
	if err := lc.Check(ctx); err != nil {
		t.Fatalf("through the proxy, before the cut: %v", err)
	}
	px.Cut()
	lc.at = time.Now().Add(-ttl)
	if err := lc.Check(ctx); !errors.Is(err, errLeaseGone) {
		t.Fatalf("Redis not answering: %v; want errLeaseGone", err)
	}
	if held, _ := lc.lease.Held(ctx); held {
		t.Fatal("lease.Held: Redis not answering counts as held")
	}
}
