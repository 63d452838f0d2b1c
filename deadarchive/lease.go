package deadarchive

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/lease"
)

// The one-at-a-time lease of archive passes across processes
// (layout.Keys.DeadArchiveLock): a lease (package internal/lease) under the
// holder's token, renewed between batches. A holder that loses it stops
// after its batch; the batch is then archived at most twice, which the
// table collapses.

// takeLease takes the lease for instance; ok is false while another
// process holds it.
func takeLease(ctx context.Context, rdb redis.UniversalClient, key, instance string, ttl time.Duration) (lease.Lease, bool, error) {
	l := lease.ForPass(rdb, key, instance, ttl)
	ok, err := l.Take(ctx)
	if err != nil {
		return lease.Lease{}, false, fmt.Errorf("dead archive lease %s: %w", key, err)
	}
	return l, ok, nil
}

// renew reports whether this holder still has the lease, extending it.
// A Redis error counts as lost: a holder that cannot tell stops.
func renew(ctx context.Context, l lease.Lease) bool {
	ok, err := l.Renew(ctx)
	return err == nil && ok
}

func release(ctx context.Context, l lease.Lease) {
	_, _ = l.Release(context.WithoutCancel(ctx))
}
