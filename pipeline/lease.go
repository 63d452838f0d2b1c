package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrAccountBusy is returned while another process (or this consumer's life
// before a crash) holds the account's lease; the entry is handed out again
// after a pause.
var ErrAccountBusy = errors.New("account is being delivered by another process")

// takeLease takes the lease key for holder id with one SET key id NX PX
// ttl GET (Redis 7.0 or later), and reports whether id holds it now: it
// took it, or held it already (a release that failed), in which case the
// lease is renewed. Another holder's id means it is taken. Accounts
// (per run), shards and consumer names (per process) are leased this way;
// layout.RoundTrips.Lookup takes account leases the same way in bulk.
func takeLease(ctx context.Context, rdb redis.UniversalClient, key, id string, ttl time.Duration) (bool, error) {
	holder, err := rdb.Do(ctx, "SET", key, id, "NX", "PX", ttl.Milliseconds(), "GET").Result()
	if errors.Is(err, redis.Nil) {
		holder, err = nil, nil
	}
	if err != nil {
		return false, err
	}
	return leaseHeldBy(ctx, rdb, holder, key, id, ttl)
}

// holdsLease asks Redis whether id holds the lease key now. An error is
// returned as it is: the caller decides, and "cannot tell" must never pass
// for "held" where holding is what makes an action safe.
func holdsLease(ctx context.Context, rdb redis.UniversalClient, key, id string) (bool, error) {
	v, err := rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return v == id, nil
}

// leaseHeldBy reads the answer of a lease's SET NX GET (takeLease,
// layout.RoundTrips.Lookup): nil, or the holder's id.
func leaseHeldBy(ctx context.Context, rdb redis.UniversalClient, holder any, key, runID string, ttl time.Duration) (bool, error) {
	switch h, _ := holder.(string); {
	case holder == nil:
		return true, nil
	case h != runID:
		return false, nil
	}
	n, err := renewScript.Run(ctx, rdb, []string{key}, runID, ttl.Milliseconds()).Int()
	return n == 1, err
}

// releaseScript gives up a lease if this run holds it.
//
// KEYS[1] the lease   ARGV[1] this run's id
// Returns 1 when released, 0 when another run holds it (or nobody).
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// newRunID names one life of a process: a restarted process under the same
// consumer name does not inherit the leases of the one that crashed, whose
// requests may still be at the partner.
func newRunID(consumer string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return consumer + ":" + hex.EncodeToString(b)
}

// renewScript extends a lease this run still holds; unlike takeLease
// it never takes one back that was released or lapsed.
//
// KEYS[1] the lease   ARGV[1] this run's id   ARGV[2] time to live, ms
// Returns 1 when extended, 0 otherwise.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// keepLease renews a held lease every ttl/3 until the returned stop is
// called, so that a long delivery (waiting out a partner outage) keeps its
// account, and tells renewed how each renewal sent at at went (ok false:
// the lease is no longer this run's, or Redis could not say). A timer, not a goroutine,
// waits between renewals: most deliveries end long before the first one.
// Once stop has returned, no renewal runs any more, so a release right
// after it holds.
func keepLease(rdb redis.UniversalClient, key, runID string, ttl time.Duration, renewed func(ok bool, at time.Time)) (stop func()) {
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	mu.Lock() // the timer may fire before t is set (a slow machine): it reads t under mu
	defer mu.Unlock()
	t = time.AfterFunc(ttl/3, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		at := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), ttl/3)
		n, err := renewScript.Run(ctx, rdb, []string{key}, runID, ttl.Milliseconds()).Int()
		cancel()
		if renewed != nil {
			renewed(err == nil && n == 1, at)
		}
		t.Reset(ttl / 3)
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}
