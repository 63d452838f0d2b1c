package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Lease is one holder's claim on one key: ID is the value that names the
// holder, TTL how long the lease outlives a holder that stops renewing it.
type Lease struct {
	rdb redis.UniversalClient
	Key string
	ID  string
	TTL time.Duration
}

// New is the claim of holder id on key, with ttl.
func New(rdb redis.UniversalClient, key, id string, ttl time.Duration) Lease {
	return Lease{rdb: rdb, Key: key, ID: id, TTL: ttl}
}

// ForPass is the claim of one pass of a background job (retention, the
// sealer, the dead-letter archive) of the process named instance on key:
// its id is instance and a random token, so two passes of one process are
// told apart.
func ForPass(rdb redis.UniversalClient, key, instance string, ttl time.Duration) Lease {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return New(rdb, key, instance+":"+hex.EncodeToString(b), ttl)
}

// Take takes the lease with one SET key id NX PX ttl GET (Redis 7.0 or
// later), and reports whether ID holds it now: it took it, or held it
// already (a release that failed), in which case the lease is renewed.
// Another holder's id means it is taken.
func (l Lease) Take(ctx context.Context) (bool, error) {
	taken, holder, err := l.TakeIfFree(ctx)
	if err != nil || taken {
		return taken, err
	}
	return l.Taken(ctx, holder)
}

// TakeIfFree takes the lease when nobody holds it (SET key id NX PX ttl
// GET) and otherwise leaves it as it is; holder is the value it holds then
// ("" when taken now).
func (l Lease) TakeIfFree(ctx context.Context) (taken bool, holder string, err error) {
	got, err := l.rdb.Do(ctx, "SET", l.Key, l.ID, "NX", "PX", l.TTL.Milliseconds(), "GET").Result()
	if errors.Is(err, redis.Nil) {
		return true, "", nil
	}
	if err != nil {
		return false, "", err
	}
	holder, _ = got.(string)
	return false, holder, nil
}

// Taken reads the answer of a SET key id NX PX ttl GET that took the lease
// (Take, or a script that takes many leases in one call): nil when taken
// then; ID, a lease this holder held already, which is renewed; another
// holder's id, a lease that is not this holder's.
func (l Lease) Taken(ctx context.Context, answer any) (bool, error) {
	switch h, _ := answer.(string); {
	case answer == nil:
		return true, nil
	case h != l.ID:
		return false, nil
	}
	return l.Renew(ctx)
}

// Held asks Redis whether ID holds the lease now: the check before an
// action that is safe only while it does. An error is returned as it is:
// the caller decides, and "cannot tell" must never pass for "held".
func (l Lease) Held(ctx context.Context) (bool, error) {
	v, err := l.rdb.Get(ctx, l.Key).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return v == l.ID, nil
}

// renewScript extends a lease its holder still has; unlike Take it never
// takes one back that was released or lapsed.
//
// KEYS[1] the lease   ARGV[1] the holder's id   ARGV[2] time to live, ms
// Returns 1 when extended, 0 otherwise.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// Renew gives the lease a whole TTL again if ID still holds it, and
// reports whether it does.
func (l Lease) Renew(ctx context.Context) (bool, error) {
	n, err := renewScript.Run(ctx, l.rdb, []string{l.Key}, l.ID, l.TTL.Milliseconds()).Int()
	return n == 1, err
}

// RenewIn is Renew sent through s, a pipeline, with the whole script: to
// renew many leases in one round trip. The command answers 1 when renewed, 0 when ID does not hold
// the lease.
func (l Lease) RenewIn(ctx context.Context, s redis.Scripter) *redis.Cmd {
	return renewScript.Eval(ctx, s, []string{l.Key}, l.ID, l.TTL.Milliseconds())
}

// releaseScript gives up a lease if its holder has it.
//
// KEYS[1] the lease   ARGV[1] the holder's id
// Returns 1 when released, 0 when another holder has it (or nobody).
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Release gives the lease up if ID holds it, and reports whether it did.
func (l Lease) Release(ctx context.Context) (bool, error) {
	n, err := releaseScript.Run(ctx, l.rdb, []string{l.Key}, l.ID).Int()
	return n == 1, err
}

// lapseScript hands a lease its holder has to another value for a whole
// TTL, so that it runs out instead of being released or renewed.
//
// KEYS[1] the lease   ARGV[1] the holder's id   ARGV[2] the value to run out under
// ARGV[3] time to live, ms
// Returns 1 when handed over, 0 when the holder did not have it.
var lapseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
`)

// Lapse lets the lease run out instead of being released: if ID holds it,
// it is handed to the value to for a whole TTL, which nobody renews or
// releases (an action that may still be under way elsewhere, such as a
// partner call whose answer was not read, keeps everyone out until then).
func (l Lease) Lapse(ctx context.Context, to string) (bool, error) {
	n, err := lapseScript.Run(ctx, l.rdb, []string{l.Key}, l.ID, to, l.TTL.Milliseconds()).Int()
	return n == 1, err
}
