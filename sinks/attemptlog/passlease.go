package attemptlog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/lease"
)

// takePassLease takes the lease at key for one pass of a background job
// (retention, the sealer) of the process named instance; the value also
// holds a random token, so two passes of one process are told apart. ok is
// false when another process holds it; the caller releases a lease it took.
// what names the job in the error.
func takePassLease(ctx context.Context, rdb redis.UniversalClient, key, instance string, ttl time.Duration, what string) (l lease.Lease, ok bool, err error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	l = lease.New(rdb, key, instance+":"+hex.EncodeToString(b), ttl)
	ok, err = l.Take(ctx)
	if err != nil {
		return l, false, fmt.Errorf("%s lease %s: %w", what, key, err)
	}
	return l, ok, nil
}
