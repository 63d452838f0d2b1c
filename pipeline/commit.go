package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
)

// entry is one stream entry on its way through the pipeline.
type entry struct {
	streamID string
	fields   map[string]string
	// keepLease: a partner call of the delivery may still be under way
	// (leaseCheck.Unsettled), so the commit leaves the account's lease to
	// run out instead of releasing it.
	keepLease bool
	// vanished is the id of the entry deleted while pending that this one
	// stands in for (handlers.MetaVanished): the step's row names it.
	vanished string
}

// vanishedOutcome is the outcome of an entry deleted from the events
// stream while pending (a producer's XTRIM or XDEL), read as the entry
// that stands in for it: a dead letter and an `invalid` row that name it
// (docs/operations.md, "Entries deleted while pending").
func vanishedOutcome(streamID, stream string) *handlers.Outcome {
	return &handlers.Outcome{Step: handlers.StepInvalid, DeadReason: handlers.ReasonInvalid,
		Error: fmt.Sprintf("stream entry %s was deleted from %s while pending (XDEL/XTRIM upstream); its event is lost", streamID, stream)}
}

// committer decides how an outcome is committed (layout.Commit).
type committer struct {
	instance string
	runID    string             // holder of the account leases this process takes
	rows     bool               // attempt log on
	trips    *layout.RoundTrips // shared with the lookups
}

// commit records o for the event read from en, in the keys of its shard k;
// hash is e's ContentHash when the caller has it ("": worked out here).
// committed is false when the entry had been committed before (by this
// process before a crash, or by another one that claimed it); released
// says the commit also released children waiting for the record.
func (c *committer) commit(ctx context.Context, k layout.Keys, en entry, e event.Event, hash string, o handlers.Outcome, now time.Time) (committed, released bool, err error) {
	out := layout.Commit{Event: e, StreamID: en.streamID, Now: now, Step: o.Step,
		Ledger: "none", State: "clear", WaitOnParent: "0",
		LeaseHolder: c.runID, // released if this run holds it
		IDMap:       o.IDMap}
	switch o.Ledger {
	case handlers.LedgerSet, handlers.LedgerForce, handlers.LedgerContent:
		if hash == "" {
			hash = handlers.ContentHash(e)
		}
		out.Ledger, out.LedgerValue = ledgerModes[o.Ledger], handlers.LedgerWithHash(e, hash).String()
	case handlers.LedgerBump:
		out.Ledger, out.LedgerValue = "bump", strconv.FormatInt(e.Version, 10)
	}
	switch o.Step {
	case handlers.StepDelivered:
		out.State, out.ReleaseChildren = "clear_any", true
	case handlers.StepParked, handlers.StepRetryScheduled:
		kind := handlers.StateParked
		out.Park = k.Delayed
		if o.Step == handlers.StepRetryScheduled {
			kind, out.Park = handlers.StateRetry, k.Retry
		}
		out.State, out.StateValue = "set", string(handlers.NewState(kind, e.ID))
		out.ParkDue = strconv.FormatInt(o.Due.UnixMilli(), 10)
		out.Payload = reentryPayload(en.fields, o.Meta)
		if o.Step == handlers.StepParked && e.HasParent() {
			// Parked by the gate (no partner call): if the parent reached the
			// partner since the lookup, come back at once. Parked on the
			// partner's 409 parent_missing: the ledger already says the parent
			// is there, so wait for its next delivery or the due time.
			out.WaitOnParent = "1"
			if o.HTTPStatus == 0 {
				out.WaitOnParent = "2"
			}
		}
	case handlers.StepDead:
		out.State, out.StateValue, out.ReleaseChildren = "set", string(handlers.NewState(handlers.StateDead, e.ID)), true
		out.Dead = layout.DeadFields(en.fields, o, now)
	case handlers.StepInvalid:
		out.State = "keep"
		out.Dead = layout.DeadFields(en.fields, o, now)
	}
	if c.rows {
		out.Row = layout.RowFields(cmp.Or(en.vanished, en.streamID), e, o, now, c.instance)
	}
	if en.keepLease {
		out.LeaseHolder = "" // no lease holds "": left to run out
	}
	n, err := c.trips.Commit(ctx, k, out)
	if err != nil {
		return false, false, fmt.Errorf("commit %s of %s (%s): %w", o.Step, e.ID, en.streamID, err)
	}
	return n >= 1, n == 2, nil
}

// ledgerModes name the ledger writes that carry a whole entry, as
// layout.Commit takes them.
var ledgerModes = map[handlers.LedgerWrite]string{
	handlers.LedgerSet: "set", handlers.LedgerForce: "force", handlers.LedgerContent: "content",
}

// reentryPayload is the entry a parked or retrying event comes back with,
// in the packed form (layout.PackFields): its own fields as read, byte for
// byte, with streamsync's meta fields renewed. It holds at most layout's
// maxFlatFields fields plus layout.MoreField and the meta fields, so that
// layout.MoveDue can re-enter it with one XADD.
func reentryPayload(fields map[string]string, m handlers.Meta) string {
	f := layout.FlatFields(fields, func(k string) bool { return !handlers.IsMeta(k) })
	return layout.PackFields(append(f, m.Fields()...))
}
