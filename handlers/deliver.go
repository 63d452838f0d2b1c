package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/internal/proof"
)

// Sender delivers one event to the partner and returns the partner's
// answer, classified.
type Sender interface {
	Send(ctx context.Context, e event.Event) delivery.Answer
}

// ErrAborted is returned when a delivery was cut short; the event stays
// pending in Redis and is handled again.
var ErrAborted = errors.New("delivery aborted")

// Deliver sends the event and turns the partner's answer into its step:
// delivered, skipped_stale, parked (409 parent_missing), retry_scheduled, or
// dead (rejected, exhausted, or parent_missing once attempts are used up).
func Deliver(s Sender, retry RetryPolicy, recheck time.Duration) StepFunc {
	return func(ctx context.Context, w *Work) (*Outcome, error) {
		r := s.Send(ctx, w.Event)
		n := w.Meta.Attempts + r.Calls
		o := &Outcome{Attempt: n, HTTPStatus: r.Status, Latency: r.Latency, Meta: w.Meta}
		o.Meta.Attempts = n
		switch r.Class {
		case delivery.Delivered:
			o.Step, o.Ledger, o.IDMap = StepDelivered, LedgerSet, r.IDMap
			if r.Calls == 0 {
				// delivered with nothing sent (a delete of a record the
				// partner never got): the row says why (docs/partners.md)
				o.Error = r.Detail
			}
			if w.Meta.Proven == proof.Repair {
				o.Ledger = LedgerForce // the ledger holds what the repair sent, even a lower version
			}
		case delivery.Stale:
			o.Step, o.Error = StepSkippedStale, r.Detail
		case delivery.Aborted:
			return nil, fmt.Errorf("deliver %s: %w: %s", w.Event.ID, ErrAborted, r.Detail)
		case delivery.Permanent:
			o.Step, o.DeadReason, o.Error = StepDead, ReasonRejected, r.Detail
		case delivery.ParentMissing:
			if w.Event.Op == event.OpDelete && w.Parent.Found && w.Parent.Deleted {
				// the partner refuses a child's delete for want of its parent,
				// which is deleted: the child is gone with it
				o.Step, o.Ledger, o.Error = StepDelivered, LedgerSet, "the partner has no parent of it (deleted): gone with its parent; "+r.Detail
				break
			}
			if n >= retry.MaxAttempts {
				o.Step, o.DeadReason, o.Error = StepDead, ReasonParentMissing, fmt.Sprintf("%s after %d attempts", r.Detail, n)
				break
			}
			o.Step, o.Error, o.Due = StepParked, r.Detail, w.Now.Add(max(recheck, retry.Backoff(n), r.RetryAfter))
		default: // Transient, and Unauthorized: a 401 with no credentials to refresh a token with
			if n >= retry.MaxAttempts {
				o.Step, o.DeadReason, o.Error = StepDead, ReasonExhausted, fmt.Sprintf("%s (attempt %d of %d)", r.Detail, n, retry.MaxAttempts)
				break
			}
			o.Step, o.Error, o.Due = StepRetryScheduled, r.Detail, w.Now.Add(max(retry.Backoff(n), r.RetryAfter))
		}
		return o, nil
	}
}
