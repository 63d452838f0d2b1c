package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/proof"
)

// Verdict is what a partner call came to.
type Verdict int

// Verdicts a Sender reports.
const (
	Accepted      Verdict = iota + 1 // the partner has the change
	Stale                            // the partner has this version or a newer one
	ParentMissing                    // the partner lacks the parent
	Transient                        // try again later
	Rejected                         // the partner refuses the change for good
	Aborted                          // the call was cut short (shutdown): leave the event pending
)

// SendResult is one delivery as the Sender reports it.
type SendResult struct {
	Verdict    Verdict
	Status     int
	Latency    time.Duration
	RetryAfter time.Duration
	Detail     string
	// Calls counts the partner calls that count as attempts.
	Calls int
}

// Sender delivers one event to the partner.
type Sender interface {
	Send(ctx context.Context, e event.Event) SendResult
}

// ErrAborted is returned when a delivery was cut short; the event stays
// pending in Redis and is handled again.
var ErrAborted = errors.New("delivery aborted")

// Deliver sends the event and turns the answer into its outcome: delivered,
// skipped_stale, parked (409 parent_missing), retry_scheduled, or dead
// (rejected, exhausted, or parent_missing once attempts are used up).
func Deliver(s Sender, retry RetryPolicy, recheck time.Duration) StepFunc {
	return func(ctx context.Context, w *Work) (*Outcome, error) {
		r := s.Send(ctx, w.Event)
		n := w.Meta.Attempts + r.Calls
		o := &Outcome{Attempt: n, HTTPStatus: r.Status, Latency: r.Latency, Meta: w.Meta}
		o.Meta.Attempts = n
		switch r.Verdict {
		case Accepted:
			o.Step, o.Ledger = StepDelivered, LedgerSet
			if w.Meta.Proven == proof.Repair {
				o.Ledger = LedgerForce // the ledger holds what the repair sent, even a lower version
			}
		case Stale:
			o.Step, o.Error = StepSkippedStale, r.Detail
		case Aborted:
			return nil, fmt.Errorf("deliver %s: %w: %s", w.Event.ID, ErrAborted, r.Detail)
		case Rejected:
			o.Step, o.DeadReason, o.Error = StepDead, ReasonRejected, r.Detail
		case ParentMissing:
			if n >= retry.MaxAttempts {
				o.Step, o.DeadReason, o.Error = StepDead, ReasonParentMissing, fmt.Sprintf("%s after %d attempts", r.Detail, n)
				break
			}
			o.Step, o.Error, o.Due = StepParked, r.Detail, w.Now.Add(max(recheck, retry.Backoff(n), r.RetryAfter))
		default: // Transient
			if n >= retry.MaxAttempts {
				o.Step, o.DeadReason, o.Error = StepDead, ReasonExhausted, fmt.Sprintf("%s (attempt %d of %d)", r.Detail, n, retry.MaxAttempts)
				break
			}
			o.Step, o.Error, o.Due = StepRetryScheduled, r.Detail, w.Now.Add(max(retry.Backoff(n), r.RetryAfter))
		}
		return o, nil
	}
}
