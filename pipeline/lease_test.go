package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
)

// A lease held by a long delivery outlives its TTL while kept, and lapses
// once the keeping stops; another run cannot take it meanwhile.
func TestLeaseKeptWhileDelivering(t *testing.T) {
	rdb := testenv.Redis(t)
	key := testenv.Prefix(t) + "lease"
	ctx := context.Background()
	t.Cleanup(func() { rdb.Del(ctx, key) })
	// Long enough that a renewal every ttl/3 lands in time on a loaded machine.
	const ttl = 1500 * time.Millisecond
	take := func(run string) bool {
		t.Helper()
		ok, err := takeLease(ctx, rdb, key, run, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !take("run-a") {
		t.Fatal("first acquire failed")
	}
	if !take("run-a") {
		t.Fatal("the holder's own acquire failed")
	}
	stop := keepLease(rdb, key, "run-a", ttl)
	end := time.Now().Add(2 * ttl)
	for time.Now().Before(end) {
		if v, _ := rdb.Get(ctx, key).Result(); v != "run-a" {
			t.Fatalf("lease lost while kept (value %q)", v)
		}
		if take("run-b") {
			t.Fatal("another run took a kept lease")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	testenv.WaitFor(t, 5*time.Second, "the lease to lapse", func() bool { return rdb.Exists(ctx, key).Val() == 0 })
}

// After a long wait (a process paused past its lease), the partner call
// asks Redis whether the account's lease is still this run's.
func TestLeaseCheckAfterAStall(t *testing.T) {
	rdb := testenv.Redis(t)
	key := testenv.Prefix(t) + "lease"
	ctx := context.Background()
	t.Cleanup(func() { rdb.Del(ctx, key) })
	const ttl = 3 * time.Second
	rdb.Set(ctx, key, "run-a", ttl)
	lc := &leaseCheck{rdb: rdb, key: key, runID: "run-a", ttl: ttl, at: time.Now()}
	rdb.Set(ctx, key, "run-b", ttl) // taken meanwhile, but known held a moment ago
	if !lc.still(ctx) {
		t.Fatal("a lease known held a moment ago is asked about")
	}
	lc.at = time.Now().Add(-ttl) // a stall
	if lc.still(ctx) {
		t.Fatal("after a stall, a lease another run holds counts as held")
	}
	rdb.Set(ctx, key, "run-a", ttl)
	if !lc.still(ctx) || time.Since(lc.at) > time.Second {
		t.Fatal("after a stall, a lease still held does not count as held")
	}
}
