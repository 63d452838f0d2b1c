package pipeline

import (
	"cmp"
	"context"
	"errors"
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

// committer writes outcomes with commitScript.
type committer struct {
	instance string
	runID    string      // holder of the account leases this process takes
	rows     bool        // attempt log on
	trips    *roundTrips // shared with the lookups
}

// commit records o for the event read from en, in the keys of its shard k;
// hash is e's ContentHash when the caller has it ("": worked out here).
// committed is false when the entry had been committed before (by this
// process before a crash, or by another one that claimed it); released
// says the commit also released children waiting for the record.
func (c *committer) commit(ctx context.Context, k layout.Keys, en entry, e event.Event, hash string, o handlers.Outcome, now time.Time) (committed, released bool, err error) {
	rkey := e.Key
	ledgerMode, ledgerVal := "none", ""
	switch o.Ledger {
	case handlers.LedgerSet, handlers.LedgerForce, handlers.LedgerContent:
		if hash == "" {
			hash = handlers.ContentHash(e)
		}
		ledgerMode, ledgerVal = ledgerModes[o.Ledger], handlers.LedgerWithHash(e, hash).String()
	case handlers.LedgerBump:
		ledgerMode, ledgerVal = "bump", strconv.FormatInt(e.Version, 10)
	}
	stateMode, stateVal, release := "clear", "", "0"
	parkZSet, parkDue, payload, waitOnParent := k.Delayed, "", "", "0"
	var dead []any
	switch o.Step {
	case handlers.StepDelivered:
		stateMode, release = "clear_any", "1"
	case handlers.StepParked, handlers.StepRetryScheduled:
		kind := handlers.StateParked
		if o.Step == handlers.StepRetryScheduled {
			kind, parkZSet = handlers.StateRetry, k.Retry
		}
		stateMode, stateVal = "set", string(handlers.NewState(kind, e.ID))
		parkDue = strconv.FormatInt(o.Due.UnixMilli(), 10)
		payload = reentryPayload(en.fields, o.Meta)
		if o.Step == handlers.StepParked && e.HasParent() {
			// Parked by the gate (no partner call): if the parent reached the
			// partner since the lookup, come back at once. Parked on the
			// partner's 409 parent_missing: the ledger already says the parent
			// is there, so wait for its next delivery or the due time.
			waitOnParent = "1"
			if o.HTTPStatus == 0 {
				waitOnParent = "2"
			}
		}
	case handlers.StepDead:
		stateMode, stateVal, release = "set", string(handlers.NewState(handlers.StateDead, e.ID)), "1"
		dead = layout.DeadFields(en.fields, o, now)
	case handlers.StepInvalid:
		stateMode = "keep"
		dead = layout.DeadFields(en.fields, o, now)
	}
	var rowFields []any
	if c.rows {
		rowFields = layout.RowFields(cmp.Or(en.vanished, en.streamID), e, o, now, c.instance)
	}
	keys := []string{
		k.Events, k.Attempts, k.Steps,
		k.Ledger(e.Entity), k.State(e.Entity), k.Waiting(e.Entity, e.Key),
		k.Delayed, parkZSet, k.Payloads, k.Dead, k.Waiting(e.ParentEntity, e.ParentKey), k.Lease(e.Account),
		k.Ledger(e.ParentEntity),
	}
	leaseHolder := c.runID // released if this run holds it
	if en.keepLease {
		leaseHolder = "" // no lease holds "": left to run out
	}
	args := make([]any, 0, 19+len(dead)+len(rowFields))
	args = append(args, k.Group, en.streamID, rkey, e.ID, now.UnixMilli(), string(o.Step),
		ledgerMode, ledgerVal, stateMode, stateVal, release, parkDue, payload, waitOnParent,
		len(dead), len(rowFields), leaseHolder, e.ParentKey)
	args = append(args, dead...)
	args = append(args, rowFields...)
	answer, err := c.trips.runPart(ctx, commitScript, k.Events, keys, args)
	n, err := commitAnswer(answer, err)
	if err != nil {
		return false, false, fmt.Errorf("commit %s of %s (%s): %w", o.Step, e.ID, en.streamID, err)
	}
	return n >= 1, n == 2, nil
}

// ledgerModes name the ledger writes that carry a whole entry, as
// commitScript takes them.
var ledgerModes = map[handlers.LedgerWrite]string{
	handlers.LedgerSet: "set", handlers.LedgerForce: "force", handlers.LedgerContent: "content",
}

// reentryPayload is the entry a parked or retrying event comes back with,
// in the packed form (layout.PackFields): its own fields as read, byte for
// byte, with streamsync's meta fields renewed. It holds at most layout's
// maxFlatFields fields plus layout.MoreField and the meta fields, so that moveDueScript can
// re-enter it with one XADD.
func reentryPayload(fields map[string]string, m handlers.Meta) string {
	f := layout.FlatFields(fields, func(k string) bool { return !handlers.IsMeta(k) })
	return layout.PackFields(append(f, m.Fields()...))
}

// commitAnswer reads commitScript's answer for one outcome: 1 committed, 0
// acked before, or the text of what went wrong with it.
func commitAnswer(answer any, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	switch v := answer.(type) {
	case int64:
		return v, nil
	case string:
		return 0, errors.New(v)
	default:
		return 0, fmt.Errorf("commit answered %v (%T)", answer, answer)
	}
}
