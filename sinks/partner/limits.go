package partner

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// limits bound the calls made through a profile (docs/partners.md,
// "Limits"): requests per second, requests in flight at once, and a pause
// of every call while the partner asked us to wait (a rate-limit answer).
// Each applies per call — a find and the create after it are two — and a
// wait for any of them ends with its context.
type limits struct {
	rate *rate.Limiter // nil: no rate limit
	sem  chan struct{} // nil: no bound on calls in flight
	now  func() time.Time
	// hold is when, on now's clock (unix ns), calls may go again after a
	// rate-limit answer; 0 or past: now.
	hold atomic.Int64
}

// newLimits builds the limits of rate requests per second (0: none) with
// burst (<= 0: rate/10, at least 1) and at most concurrency calls in flight
// (0: no bound).
func newLimits(perSecond float64, burst, concurrency int, now func() time.Time) *limits {
	l := &limits{now: now}
	if perSecond > 0 {
		if burst <= 0 {
			burst = max(1, int(perSecond/10))
		}
		l.rate = rate.NewLimiter(rate.Limit(perSecond), burst)
	}
	if concurrency > 0 {
		l.sem = make(chan struct{}, concurrency)
	}
	return l
}

// acquire waits until a call may go: past any hold, a free slot, then a
// rate token. release gives the slot back once the call's answer is read;
// err is ctx's when it ended first (nothing is then held).
func (l *limits) acquire(ctx context.Context) (release func(), err error) {
	if err := l.waitHold(ctx); err != nil {
		return nil, err
	}
	release = func() {}
	if l.sem != nil {
		select {
		case l.sem <- struct{}{}:
			release = func() { <-l.sem }
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if l.rate != nil {
		if err := l.rate.Wait(ctx); err != nil {
			release()
			return nil, err
		}
	}
	return release, nil
}

// pause holds every call for d from now (a later hold is kept; d is at
// most maxRetryAfter).
func (l *limits) pause(d time.Duration) {
	if d <= 0 {
		return
	}
	until := l.now().Add(min(d, maxRetryAfter)).UnixNano()
	for {
		cur := l.hold.Load()
		if cur >= until || l.hold.CompareAndSwap(cur, until) {
			return
		}
	}
}

// waitHold returns once the hold has passed (waited for once, as long as
// the clock says is left: an injected clock need not move), or ctx ended.
func (l *limits) waitHold(ctx context.Context) error {
	d := time.Duration(l.hold.Load() - l.now().UnixNano())
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
