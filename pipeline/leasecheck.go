package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/internal/lease"
)

// errLeaseGone is why a delivery stops before a partner call: the account's
// lease is not this run's any more, or Redis cannot say whether it is.
var errLeaseGone = errors.New("the account's lease is not this process' any more")

// leaseCheck guards every partner call of one delivery (delivery.Guard): a
// call goes only while this run holds the account's lease (docs/scaling.md,
// "one delivery per account at a time"). A delivery can wait long before a
// call — for the breaker, the rate limit, a stalled process — so each call
// asks, not only the first.
//
//   - The lease counts as held without asking Redis while it was known held
//     less than a third of its TTL ago (lease.Keep renews it that often, and
//     a renewal gives it a whole TTL); after that Redis is asked.
//   - A failed renewal, Redis saying another holder, and Redis not answering
//     ("cannot tell") all count as not held, for good: no further call of
//     this delivery goes, and the event stays pending.
//   - A call whose answer was not read (Unsettled: a timeout on our side, a
//     connection cut, a stop) may still be at the partner, so the lease is
//     not released: it is handed to a holder nobody is, for a whole TTL,
//     and runs out; until then no process, this one included, delivers the
//     account's next event.
type leaseCheck struct {
	lease lease.Lease // the account's, held by this run

	mu        sync.Mutex
	at        time.Time // when the lease was last known held
	gone      error     // why it no longer counts as held; nil while it does
	unsettled bool      // a call may still be at the partner
}

var _ delivery.Guard = (*leaseCheck)(nil)

// Check returns nil while this run holds the lease.
func (lc *leaseCheck) Check(ctx context.Context) error {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.gone != nil {
		return lc.gone
	}
	if time.Since(lc.at) < lc.lease.TTL/3 {
		return nil
	}
	held, err := lc.lease.Held(ctx)
	switch {
	case err != nil:
		lc.gone = fmt.Errorf("%w: Redis cannot say whether it is (%v); the event stays pending", errLeaseGone, err)
	case !held:
		lc.gone = fmt.Errorf("%w (it lapsed, or this process stalled past it); the event stays pending", errLeaseGone)
	default:
		lc.at = time.Now()
	}
	return lc.gone
}

// renewed is told how each of lease.Keep's renewals went; at is when the
// renewal was sent.
func (lc *leaseCheck) renewed(ok bool, at time.Time) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	switch {
	case lc.gone != nil:
	case !ok:
		lc.gone = fmt.Errorf("%w: renewing it failed; the event stays pending", errLeaseGone)
	case at.After(lc.at):
		lc.at = at
	}
}

// Unsettled lets the lease run out instead of being released: it is handed
// to this run's unsettled holder (unsettledHolder) for a whole TTL, so that
// neither another process nor this one (whose own id would renew it) takes
// it before the partner is done with the call. No further call of the
// delivery goes.
func (lc *leaseCheck) Unsettled() {
	lc.mu.Lock()
	lc.unsettled = true
	if lc.gone == nil {
		lc.gone = fmt.Errorf("%w: a call to the partner may still be under way; the lease runs out first", errLeaseGone)
	}
	lc.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// An error leaves the lease as it is: still this run's, kept from this
	// run's own next delivery by Pipeline.settling, and lapsing by itself
	// once no longer renewed.
	_, _ = lc.lease.Lapse(ctx, unsettledHolder(lc.lease.ID))
}

// isUnsettled reports whether a call of the delivery may still be at the
// partner.
func (lc *leaseCheck) isUnsettled() bool {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.unsettled
}

// unsettledHolder is the value a lease runs out under after one of runID's
// calls went unanswered: no run has it as its id, so nobody renews or
// releases the lease, and an operator reading it sees why it is held.
func unsettledHolder(runID string) string { return runID + " (unsettled call)" }

// settling remembers, in this process, the accounts whose lease runs out
// after an unsettled call, until it has: their next delivery waits even if
// Redis did not take the lease's new value (lease.Lapse failed), in which
// case this run's own id would still renew it.
type settling struct {
	mu    sync.Mutex
	until map[string]time.Time // lease key → when its wait ends
}

// add makes lease's account wait for d from now.
func (s *settling) add(lease string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.until == nil {
		s.until = map[string]time.Time{}
	}
	now := time.Now()
	if len(s.until) >= 1024 {
		for k, t := range s.until {
			if !now.Before(t) {
				delete(s.until, k)
			}
		}
	}
	s.until[lease] = now.Add(d)
}

// waits reports whether lease's account still waits.
func (s *settling) waits(lease string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.until[lease]
	if ok && !time.Now().Before(t) {
		delete(s.until, lease)
		return false
	}
	return ok
}
