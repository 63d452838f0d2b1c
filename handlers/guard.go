package handlers

import (
	"context"
	"fmt"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/proof"
)

// LedgerGuard skips what the partner needs not get: a version not newer than
// the ledger's (stale; a repeated event id is one), and content identical to
// what the partner last got (unchanged; the ledger's version moves up).
//
// Only an event that proves streamsync wrote it passes without the check
// (Meta.Proven, docs/security.md): a reconciliation repair always, since
// the ledger may be what drifted (docs/reconcile.md), and a replayed dead letter
// for its own event id. The origin field proves nothing: an event with
// origin=reconcile and no valid proof is checked like any other.
func LedgerGuard() StepFunc {
	return func(_ context.Context, w *Work) (*Outcome, error) {
		r, e := w.Record, w.Event
		if w.Meta.Proven == proof.Repair || w.Meta.Proven == proof.Replay || !r.Found {
			return nil, nil
		}
		if e.Version <= r.Version {
			return &Outcome{Step: StepSkippedStale, Attempt: w.Meta.Attempts,
				Error: fmt.Sprintf("version %d is not newer than %d (event %s)", e.Version, r.Version, r.EventID)}, nil
		}
		unchanged := r.Deleted && e.Op == event.OpDelete || !r.Deleted && e.Op == event.OpUpsert && w.Hash() == r.Hash
		if unchanged {
			return &Outcome{Step: StepSkippedUnchanged, Ledger: LedgerBump, Attempt: w.Meta.Attempts}, nil
		}
		return nil, nil
	}
}
