package attemptlog

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/lease"
)

// takePassLease takes the lease at key for one pass of a background job
// (retention, the sealer) of the process named instance (lease.ForPass). ok is
// false when another process holds it; the caller releases a lease it took.
// what names the job in the error.
func takePassLease(ctx context.Context, rdb redis.UniversalClient, key, instance string, ttl time.Duration, what string) (l lease.Lease, ok bool, err error) {
	l = lease.ForPass(rdb, key, instance, ttl)
	ok, err = l.Take(ctx)
	if err != nil {
		return l, false, fmt.Errorf("%s lease %s: %w", what, key, err)
	}
	return l, ok, nil
}

// runPasses calls pass first after it starts and then every every, until
// ctx ends (the loop of Retainer.Run and Sealer.Run).
func runPasses(ctx context.Context, first, every time.Duration, pass func()) {
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pass()
		t.Reset(every)
	}
}
