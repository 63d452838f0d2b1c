package handlers

import (
	"context"
	"fmt"
	"time"

	"github.com/streamsync/streamsync/event"
)

// DependencyGate holds a child back until the partner has its parent. The
// child is parked while the parent is known to the pipeline (parked or
// retrying), and for at most maxWait in all while the parent has not been
// seen at all; it is dead-lettered parent_missing when the parent is dead or
// that time is up. A parked child is looked at again after recheck at the
// latest, and at once when its parent is delivered.
func DependencyGate(maxWait, recheck time.Duration) StepFunc {
	return func(_ context.Context, w *Work) (*Outcome, error) {
		e := w.Event
		if !e.HasParent() || w.Parent.Present() {
			return nil, nil
		}
		if e.Op == event.OpDelete && w.Parent.Found && w.Parent.Deleted {
			// a child's delete after its parent's: nothing to wait for (the
			// partner answers it, or says the child is gone with its parent)
			return nil, nil
		}
		parent := e.ParentEntity + "/" + e.ParentKey
		switch w.ParentState.Kind() {
		case StateDead:
			return dead(w, ReasonParentMissing, fmt.Sprintf("parent %s was dead-lettered (event %s)", parent, w.ParentState.EventID())), nil
		case StateParked, StateRetry:
			m := w.Meta
			m.UnseenSince = 0 // the parent is known: the wait does not count
			return &Outcome{Step: StepParked, Attempt: w.Meta.Attempts, Due: w.Now.Add(recheck), Meta: m,
				Error: fmt.Sprintf("parent %s is %s", parent, w.ParentState.Kind())}, nil
		}
		m := w.Meta
		if m.UnseenSince == 0 {
			m.UnseenSince = w.Now.UnixMilli()
		}
		deadline := time.UnixMilli(m.UnseenSince).Add(maxWait)
		if !w.Now.Before(deadline) {
			if w.Parent.Found && w.Parent.Deleted {
				return dead(w, ReasonParentMissing, fmt.Sprintf("parent %s was deleted (version %d) and not made again within %s", parent, w.Parent.Version, maxWait)), nil
			}
			return dead(w, ReasonParentMissing, fmt.Sprintf("parent %s not seen within %s", parent, maxWait)), nil
		}
		due := w.Now.Add(recheck)
		if deadline.Before(due) {
			due = deadline
		}
		return &Outcome{Step: StepParked, Attempt: w.Meta.Attempts, Due: due, Meta: m,
			Error: fmt.Sprintf("parent %s not at the partner yet", parent)}, nil
	}
}

func dead(w *Work, reason, msg string) *Outcome {
	return &Outcome{Step: StepDead, DeadReason: reason, Error: msg, Attempt: w.Meta.Attempts}
}
