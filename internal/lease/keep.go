package lease

import (
	"context"
	"sync"
	"time"
)

// Keep renews the lease every TTL/3 until the returned stop is called, so
// that a long action (a delivery waiting out a partner outage) keeps it,
// and tells renewed how each renewal sent at at went (ok false: the lease
// is no longer ID's, or Redis could not say). A timer, not a goroutine,
// waits between renewals: most actions end long before the first one.
// Once stop has returned, no renewal runs any more, so a release right
// after it holds.
func (l Lease) Keep(renewed func(ok bool, at time.Time)) (stop func()) {
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	mu.Lock() // the timer may fire before t is set (a slow machine): it reads t under mu
	defer mu.Unlock()
	t = time.AfterFunc(l.TTL/3, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		at := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), l.TTL/3)
		ok, err := l.Renew(ctx)
		cancel()
		if renewed != nil {
			renewed(err == nil && ok, at)
		}
		t.Reset(l.TTL / 3)
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}
