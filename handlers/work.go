package handlers

import (
	"context"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/idmap"
)

// Step names one row of the attempt log (docs/operations.md).
type Step string

// The steps of docs/operations.md.
const (
	StepDelivered        Step = "delivered"
	StepSkippedStale     Step = "skipped_stale"
	StepSkippedUnchanged Step = "skipped_unchanged"
	StepSkippedLoop      Step = "skipped_loop"
	// StepSkippedConflict: a change of a two-way partner's record that the
	// other side's change won over, by the entity's conflict policy
	// (docs/partners.md, "Conflicts").
	StepSkippedConflict Step = "skipped_conflict"
	// StepWebhookRefused: a webhook from a partner refused (a bad
	// signature, a stale timestamp, a body that cannot be read); a row of
	// the partner's inbound direction, not an event's (docs/partners.md).
	StepWebhookRefused Step = "webhook_refused"
	StepParked         Step = "parked"
	StepReleased       Step = "released"
	StepRetryScheduled Step = "retry_scheduled"
	StepDead           Step = "dead"
	StepInvalid        Step = "invalid"
	StepReplayed       Step = "replayed"
	// Prepared events (docs/producers.md); cancelled is terminal.
	StepPrepared  Step = "prepared"
	StepConfirmed Step = "confirmed"
	StepCancelled Step = "cancelled"
)

// Dead-letter reasons (docs/events.md).
const (
	ReasonInvalid       = "invalid"
	ReasonParentMissing = "parent_missing"
	ReasonRejected      = "rejected"
	ReasonExhausted     = "exhausted"
	ReasonUnconfirmed   = "unconfirmed" // a prepared event never confirmed (docs/producers.md)
	// ReasonConflict: both sides of a two-way partner changed the record
	// since they last agreed, and the entity's policy is manual
	// (docs/partners.md, "Conflicts").
	ReasonConflict = "conflict"
)

// Work is one event on its way through the steps, with what the pipeline
// looked up for it.
type Work struct {
	// Fields is the stream entry as read; the validate step makes Event
	// and Meta of it.
	Fields map[string]string
	Event  event.Event
	Meta   Meta
	// Record is the ledger's entry for the event's record.
	Record Ledger
	// Parent is the ledger's entry for the parent record (when there is one).
	Parent Ledger
	// ParentState is where the parent's latest event waits in the pipeline.
	ParentState State
	Now         time.Time

	hash     string // ContentHash of hashData, once asked for
	hashData []byte
	hashOp   event.Op
}

// Hash is ContentHash(w.Event), worked out once per event: the ledger guard
// compares it and the commit writes it to the ledger. A step that changes
// the event's data or op (op=sync) gets the new content's hash.
func (w *Work) Hash() string {
	d := w.Event.Data
	if w.hash == "" || w.hashOp != w.Event.Op || len(d) != len(w.hashData) || len(d) > 0 && &d[0] != &w.hashData[0] {
		w.hash, w.hashData, w.hashOp = ContentHash(w.Event), d, w.Event.Op
	}
	return w.hash
}

// LedgerWrite says what the ledger records together with an outcome.
type LedgerWrite int

const (
	// LedgerNone leaves the ledger as it is.
	LedgerNone LedgerWrite = iota
	// LedgerSet records the event's version and content, if its version is newer.
	LedgerSet
	// LedgerBump moves the version up to the event's, keeping the content.
	LedgerBump
	// LedgerForce records the event's version and content whatever the
	// ledger held: a proven repair the partner accepted (the ledger may be
	// what drifted, so it may go down).
	LedgerForce
	// LedgerContent records the event's content, if its version is newer,
	// but keeps the ledger's version (0 for a record the ledger did not
	// have): an echo of the partner's own change, whose version nothing
	// proves (docs/security.md).
	LedgerContent
)

// Outcome is where an event ends up at one step.
type Outcome struct {
	Step       Step
	Attempt    int // partner calls so far; 0 when the step made none
	HTTPStatus int
	Latency    time.Duration
	Error      string
	// DeadReason is set with StepDead (and StepInvalid: ReasonInvalid).
	DeadReason string
	// Due is when a parked or retrying event is looked at again.
	Due    time.Time
	Ledger LedgerWrite
	// Meta travels with a parked or retrying event into its next entry.
	Meta Meta
	// IDMap is what the record's id map entry records with a delivered
	// outcome (the sender's delivery.Answer.IDMap); Op "" for any other.
	IDMap idmap.Write
}

// StepFunc is one step: an Outcome ends the event there; nil passes it on.
type StepFunc func(ctx context.Context, w *Work) (*Outcome, error)

// Chain runs steps in order until one of them gives an Outcome or an error.
func Chain(steps ...StepFunc) StepFunc {
	return func(ctx context.Context, w *Work) (*Outcome, error) {
		for _, s := range steps {
			o, err := s(ctx, w)
			if err != nil || o != nil {
				return o, err
			}
		}
		return nil, nil
	}
}
