package webhook

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// The states of a webhook-id.
type claim int

const (
	claimed  claim = iota // ours to apply
	applied               // applied before: a replay
	inFlight              // another request is applying it now
)

// doneValue is an applied id's value; a claimed one's is "pending:" + a
// token of the claim.
const doneValue = "done"

// claimScript claims a webhook-id for one request.
//
//	KEYS[1] the id's key (Partner.SeenKey + ":" + id)
//	ARGV[1] the claim's value, "pending:<token>"
//	ARGV[2] the claim's TTL in ms
//
// Returns 0 claimed (the key set, NX, with the TTL), 1 applied before,
// 2 claimed by another request that has not finished.
var claimScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 0
end
if v == 'done' then return 1 end
return 2
`)

// releaseScript gives a claim up when its append failed, so that the
// partner's retry applies the webhook.
//
//	KEYS[1] the id's key
//	ARGV[1] the claim's value
//
// Returns 1 when the claim was still this one's and is deleted, else 0.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// seen remembers the webhook-ids applied, so that a replay is not applied
// again. An id is claimed before its changes are appended (a concurrent
// copy sees the claim and is not applied), marked applied only after the
// append returned, and released when it failed.
type seen struct {
	rdb           redis.UniversalClient
	ttl, claimTTL time.Duration
}

// claim claims key; value is the claim's, for done and release.
func (s *seen) claim(ctx context.Context, key string) (claim, string, error) {
	value := "pending:" + rand.Text()
	n, err := claimScript.Run(ctx, s.rdb, []string{key}, value, s.claimTTL.Milliseconds()).Int()
	if err != nil {
		return 0, "", fmt.Errorf("claim webhook-id: %w", err)
	}
	return claim(n), value, nil
}

// done marks key applied for the TTL, whoever holds it now: its changes
// are in.
func (s *seen) done(ctx context.Context, key string) error {
	if err := s.rdb.Set(ctx, key, doneValue, s.ttl).Err(); err != nil {
		return fmt.Errorf("mark webhook-id applied: %w", err)
	}
	return nil
}

// release gives the claim value of key up.
func (s *seen) release(ctx context.Context, key, value string) error {
	if err := releaseScript.Run(ctx, s.rdb, []string{key}, value).Err(); err != nil {
		return fmt.Errorf("release webhook-id: %w", err)
	}
	return nil
}
