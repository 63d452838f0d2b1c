package handlers

import "context"

// LoopFilter ends an event that came from the partner itself: it is never
// sent back, but the ledger records it, so that an echo of the same content
// from our side is recognised as unchanged.
func LoopFilter(partnerName string) StepFunc {
	return func(_ context.Context, w *Work) (*Outcome, error) {
		if w.Event.Origin != partnerName {
			return nil, nil
		}
		return &Outcome{Step: StepSkippedLoop, Ledger: LedgerSet, Attempt: w.Meta.Attempts}, nil
	}
}
