package handlers

import (
	"context"
	"fmt"

	"github.com/streamsync/streamsync/event"
)

// LedgerGuard skips what the partner needs not get: a version not newer than
// the ledger's (stale; a repeated event id is one), and content identical to
// what the partner last got (unchanged; the ledger's version moves up). A
// replayed event passes once without the check.
func LedgerGuard() StepFunc {
	return func(_ context.Context, w *Work) (*Outcome, error) {
		r, e := w.Record, w.Event
		if w.Meta.Replay || !r.Found {
			return nil, nil
		}
		if e.Version <= r.Version {
			return &Outcome{Step: StepSkippedStale, Attempt: w.Meta.Attempts,
				Error: fmt.Sprintf("version %d is not newer than %d (event %s)", e.Version, r.Version, r.EventID)}, nil
		}
		unchanged := r.Deleted && e.Op == event.OpDelete || !r.Deleted && e.Op == event.OpUpsert && ContentHash(e) == r.Hash
		if unchanged {
			return &Outcome{Step: StepSkippedUnchanged, Ledger: LedgerBump, Attempt: w.Meta.Attempts}, nil
		}
		return nil, nil
	}
}
