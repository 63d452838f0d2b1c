package handlers

import "context"

// LoopFilter ends an event that came from the partner itself: it is never
// sent back, but the ledger records its content, so that an echo of the
// same content from our side is recognised as unchanged (docs/events.md).
//
// It records the content only, not the version (LedgerContent): anyone
// who can write an event can write origin=partner, and nothing proves the
// version such an event claims. Were it recorded, an echo at version
// 9223372036854775807 would make every later event of the record stale.
// The ledger's version moves only with what the partner got from us, a
// skipped unchanged event, a proven repair, or an operator
// (docs/security.md, "What only streamsync may write").
func LoopFilter(partnerName string) StepFunc {
	return func(_ context.Context, w *Work) (*Outcome, error) {
		if w.Event.Origin != partnerName {
			return nil, nil
		}
		return &Outcome{Step: StepSkippedLoop, Ledger: LedgerContent, Attempt: w.Meta.Attempts}, nil
	}
}
