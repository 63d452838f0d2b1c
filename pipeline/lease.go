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
// lookupScript takes account leases the same way in bulk.
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

// holdsLease asks Redis whether id holds the lease key now; a Redis error
// counts as held (the caller goes on as it would have without asking).
func holdsLease(ctx context.Context, rdb redis.UniversalClient, key, id string) bool {
	v, err := rdb.Get(ctx, key).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return true
	}
	return v == id
}

// leaseHeldBy reads the answer of a lease's SET NX GET (takeLease,
// lookupScript): nil, or the holder's id.
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
// account. A timer, not a goroutine, waits between renewals: most
// deliveries end long before the first one. Once stop has returned, no
// renewal runs any more, so a release right after it holds.
func keepLease(rdb redis.UniversalClient, key, runID string, ttl time.Duration) (stop func()) {
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
		ctx, cancel := context.WithTimeout(context.Background(), ttl/3)
		_ = renewScript.Run(ctx, rdb, []string{key}, runID, ttl.Milliseconds()).Err()
		cancel()
		t.Reset(ttl / 3)
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

// leaseCheck lets the partner call make sure, after a long wait since the
// account's lease was last known to be held (a process paused past the
// lease's TTL: SIGSTOP, a long GC or VM stall), that this run still holds
// it; another process may be delivering the account's newer events by then.
type leaseCheck struct {
	rdb   redis.UniversalClient
	key   string
	runID string
	ttl   time.Duration
	at    time.Time // when the lease was last known to be held
}

type leaseCheckKey struct{}

func withLeaseCheck(ctx context.Context, lc *leaseCheck) context.Context {
	return context.WithValue(ctx, leaseCheckKey{}, lc)
}

// still reports whether this run holds the lease: at once when it was
// known to a third of its TTL ago (keepLease renews it that often), else
// by asking Redis. A Redis error counts as held (the call goes on, as
// before this check).
func (lc *leaseCheck) still(ctx context.Context) bool {
	if time.Since(lc.at) < lc.ttl/3 {
		return true
	}
	if !holdsLease(ctx, lc.rdb, lc.key, lc.runID) {
		return false
	}
	lc.at = time.Now()
	return true
}
