package lease

import (
	"context"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
)

// A lease held by a long action outlives its TTL while kept, and lapses
// once the keeping stops; another holder cannot take it meanwhile.
func TestLeaseKeptWhileDelivering(t *testing.T) {
	rdb := testenv.Redis(t)
	key := testenv.Prefix(t) + "lease"
	ctx := context.Background()
	t.Cleanup(func() { rdb.Del(ctx, key) })
	// Long enough that a renewal every ttl/3 lands in time on a loaded machine.
	const ttl = 1500 * time.Millisecond
	take := func(run string) bool {
		t.Helper()
		ok, err := New(rdb, key, run, ttl).Take(ctx)
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
	stop := New(rdb, key, "run-a", ttl).Keep(nil)
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
