package deadarchive

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// The one-at-a-time lease of archive passes across processes
// (layout.Keys.DeadArchiveLock): a holder's token SET NX with a TTL,
// renewed between batches. A holder that loses it stops after its batch;
// the batch is then archived at most twice, which the table collapses.

// renewScript extends the lease while this holder has it.
//
// KEYS[1] the lease   ARGV[1] the holder's token   ARGV[2] time to live, ms
// Returns 1 when renewed, 0 when another holder (or nobody) has it.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// releaseScript gives the lease up while this holder has it.
//
// KEYS[1] the lease   ARGV[1] the holder's token
// Returns 1 when released, 0 otherwise.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// lease is one holder's claim on the lease key.
type lease struct {
	rdb   redis.UniversalClient
	key   string
	token string
	ttl   time.Duration
}

// takeLease takes the lease for instance; ok is false while another
// process holds it.
func takeLease(ctx context.Context, rdb redis.UniversalClient, key, instance string, ttl time.Duration) (*lease, bool, error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	l := &lease{rdb: rdb, key: key, token: instance + ":" + hex.EncodeToString(b), ttl: ttl}
	ok, err := rdb.SetNX(ctx, key, l.token, ttl).Result()
	if err != nil {
		return nil, false, fmt.Errorf("dead archive lease %s: %w", key, err)
	}
	return l, ok, nil
}

// renew reports whether this holder still has the lease, extending it.
// A Redis error counts as lost: a holder that cannot tell stops.
func (l *lease) renew(ctx context.Context) bool {
	n, err := renewScript.Run(ctx, l.rdb, []string{l.key}, l.token, l.ttl.Milliseconds()).Int()
	return err == nil && n == 1
}

func (l *lease) release(ctx context.Context) {
	_ = releaseScript.Run(context.WithoutCancel(ctx), l.rdb, []string{l.key}, l.token).Err()
}
