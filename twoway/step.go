package twoway

import (
	"context"
	"errors"
	"fmt"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/proof"
	"github.com/streamsync/streamsync/source"
)

// Step is the pipeline step of this direction (handlers.StepsConfig.TwoWay):
// echoes end skipped_loop, changes already settled skipped_stale, and
// conflicts are settled by the entity's policy before anything is written.
// An error (Redis) leaves the entry pending.
func (p *Pair) Step() handlers.StepFunc {
	return func(ctx context.Context, w *handlers.Work) (*handlers.Outcome, error) {
		for range maxDecisions - 1 {
			o, err := p.decide(ctx, w)
			if !errors.Is(err, errAgreementMoved) {
				return o, err
			}
		}
		return p.decide(ctx, w)
	}
}

// maxDecisions bounds how often a step decides again when the record's
// agreement moves under it; past it, the error leaves the entry pending.
const maxDecisions = 4

// decide is one decision of Step over the agreement as it reads now.
func (p *Pair) decide(ctx context.Context, w *handlers.Work) (*handlers.Outcome, error) {
	e := w.Event
	if e.Op == event.OpSync {
		return nil, nil
	}
	k := p.cfg.Keys.For(e.Account)
	a, err := layout.ReadAgreement(ctx, p.rdb, k, e.Entity, e.Key)
	if err != nil {
		return nil, err
	}
	if err := p.parentAgreed(ctx, w); err != nil {
		return nil, err
	}
	h := p.hash(e)
	from := p.cfg.From
	if w.Meta.Resolved || w.Meta.Proven != proof.None {
		// settles a conflict, or an operator's replay or a repair:
		// written as it is, over the other side's version
		return p.lift(ctx, w)
	}
	if a.Found && a.Hash == h && a.Writer != e.ID {
		// what streamsync last wrote to the other side, or heard from
		// it, coming back: an echo, whatever its origin says
		if err := p.agree(ctx, e, "", from, e.Version); err != nil {
			return nil, err
		}
		return &handlers.Outcome{Step: handlers.StepSkippedLoop, Ledger: handlers.LedgerSet, Attempt: w.Meta.Attempts,
			Error: fmt.Sprintf("an echo: equal to what %s and %s last agreed on", from, from.Other())}, nil
	}
	if a.Found && e.Version <= settled(a, from) {
		return &handlers.Outcome{Step: handlers.StepSkippedStale, Attempt: w.Meta.Attempts,
			Error: fmt.Sprintf("%s version %d is not newer than the one already settled (%d)", from, e.Version, settled(a, from))}, nil
	}
	if !p.canRead(e.Entity) {
		return nil, nil // no conflict check: the other side cannot be read
	}
	cur, found, err := p.cfg.Target.Get(ctx, e.Entity, e.Key)
	if err != nil {
		return p.readFailed(w, err), nil
	}
	if found && cur.Version >= e.Version {
		// the other side numbers on from what it holds: a change made
		// since they agreed goes over it (as a repair does)
		w.Event.SendVersion = cur.Version + 1
	}
	hc := p.recordHash(e.Entity, cur, found)
	switch {
	case hc == h:
		// the other side holds this content already
		if err := p.agree(ctx, e, h, from, e.Version); err != nil {
			return nil, err
		}
		return &handlers.Outcome{Step: handlers.StepSkippedUnchanged, Ledger: handlers.LedgerSet, Attempt: w.Meta.Attempts,
			Error: fmt.Sprintf("%s holds this content already", from.Other())}, nil
	case !a.Found && !found, a.Found && a.Hash != "" && hc == a.Hash:
		return nil, nil // the other side did not change it: no conflict
	}
	return p.conflict(ctx, w, a, cur, found)
}

// conflict settles a change of the record on both sides since they last
// agreed, by the entity's policy.
func (p *Pair) conflict(ctx context.Context, w *handlers.Work, a layout.Agreement, cur source.Record, found bool) (*handlers.Outcome, error) {
	e, from := w.Event, p.cfg.From
	to := from.Other()
	policy := p.cfg.Policy(e.Entity)
	var fromWins bool
	switch policy {
	case PolicyOurs:
		fromWins = from == Ours
	case PolicyTheirs:
		fromWins = from == Theirs
	case PolicyManual:
		return p.manual(ctx, w, a, cur, found)
	default: // newest: by each side's version (a time, for this to mean "newest"); a deletion of unknown time loses
		fromWins = !found || e.Version >= cur.Version
	}
	if fromWins {
		// written over the other side's change, which is settled: its own
		// event, when it comes, is stale
		if found {
			if err := p.agree(ctx, e, "", to, cur.Version); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	r := resolution(e, cur, found, a, to)
	if err := p.cfg.Resolve(ctx, r); err != nil {
		return nil, fmt.Errorf("conflict of %s/%s: %w", e.Entity, e.Key, err)
	}
	if err := p.agree(ctx, e, "", from, e.Version); err != nil {
		return nil, err
	}
	return &handlers.Outcome{Step: handlers.StepSkippedConflict, Attempt: w.Meta.Attempts,
		Error: fmt.Sprintf("conflict: %s changed the record too; by policy %s, %s's record (version %d) is kept and written to %s",
			to, policy, to, r.Version, from)}, nil
}

// resolution is the event that writes side to's record (cur; a delete when
// it does not have it) to the other side, in place of e.
func resolution(e event.Event, cur source.Record, found bool, a layout.Agreement, to Side) event.Event {
	r := event.Event{ID: resolutionID(e.ID), Account: e.Account, Entity: e.Entity, Key: e.Key}
	if found {
		r.Op, r.Version, r.Data = event.OpUpsert, cur.Version, cur.Data
		if cur.Parent != nil {
			r.ParentEntity, r.ParentKey = cur.Parent.Entity, cur.Parent.Key
		}
	} else {
		r.Op, r.Version = event.OpDelete, settled(a, to)+1
	}
	if r.Version <= 0 {
		r.Version = 1
	}
	return r
}

// resolutionID is the id of the event that settles e's conflict: "cf-" and
// e's id, cut to an event id's 128 bytes.
func resolutionID(id string) string {
	s := "cf-" + id
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}

// lift reads the other side's record and has e sent above its version.
func (p *Pair) lift(ctx context.Context, w *handlers.Work) (*handlers.Outcome, error) {
	if !p.canRead(w.Event.Entity) {
		return nil, nil
	}
	cur, found, err := p.cfg.Target.Get(ctx, w.Event.Entity, w.Event.Key)
	if err != nil {
		return p.readFailed(w, err), nil
	}
	if found && cur.Version >= w.Event.Version {
		w.Event.SendVersion = cur.Version + 1
	}
	return nil, nil
}

// readFailed is the outcome of a failed read of the other side: a retry,
// counted as an attempt, or dead once they are used up.
func (p *Pair) readFailed(w *handlers.Work, err error) *handlers.Outcome {
	n := w.Meta.Attempts + 1
	o := &handlers.Outcome{Attempt: n, Meta: w.Meta}
	o.Meta.Attempts = n
	detail := fmt.Sprintf("reading %s's record before writing it: %v", p.cfg.From.Other(), err)
	if n >= p.cfg.Retry.MaxAttempts {
		o.Step, o.DeadReason, o.Error = handlers.StepDead, handlers.ReasonExhausted, detail
	} else {
		o.Step, o.Error, o.Due = handlers.StepRetryScheduled, detail, w.Now.Add(p.cfg.Retry.Backoff(n))
	}
	return o
}

// parentAgreed counts the parent as present at the side written to when
// this direction's ledger does not know it but both sides agreed on it: a
// parent that came the other way (made on the side the child is written
// to) is there, though this direction never wrote it.
func (p *Pair) parentAgreed(ctx context.Context, w *handlers.Work) error {
	e := w.Event
	if !e.HasParent() || w.Parent.Present() {
		return nil
	}
	a, err := layout.ReadAgreement(ctx, p.rdb, p.cfg.Keys.For(e.Account), e.ParentEntity, e.ParentKey)
	if err != nil {
		return err
	}
	if a.Found && a.Hash != "" && a.Hash != "-" {
		w.Parent.Found, w.Parent.Deleted = true, false
	}
	return nil
}

// canRead reports whether the side written to can be read for entity: a
// Target, which, when it says which entities it reads (partnerread.Reader
// does), reads this one. A profile without a read section for an entity
// leaves its writes without conflict checks (docs/partners.md, "Conflicts").
func (p *Pair) canRead(entity string) bool {
	if p.cfg.Target == nil {
		return false
	}
	if r, ok := p.cfg.Target.(interface{ Reads(string) bool }); ok {
		return r.Reads(entity)
	}
	return true
}
