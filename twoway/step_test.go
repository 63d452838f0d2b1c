package twoway

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/source"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/proof"
)

func TestEchoIsSkippedLoopTaggedOrNot(t *testing.T) {
	for _, origin := range []string{"", partner, "someone-else"} {
		t.Run("origin="+origin, func(t *testing.T) {
			r := newRig(t, Theirs, PolicyNewest)
			r.agree(t, `{"name":"Ada","n":1}`, 5, 3)
			e := upsert("e1", 9, `{"n":1, "name":"Ada"}`) // same content, another key order
			e.Origin = origin
			o, _ := r.step(t, e, handlers.Meta{})
			if stepOf(o) != handlers.StepSkippedLoop || o.Ledger != handlers.LedgerSet {
				t.Fatalf("outcome %+v, want skipped_loop with the ledger set", o)
			}
			if r.target.calls != 0 {
				t.Errorf("an echo read the other side %d times", r.target.calls)
			}
			if a := r.agreement(t); a.Theirs != 9 || a.Ours != 5 {
				t.Errorf("agreement %+v: the echo's version is settled on its side only", a)
			}
		})
	}
}

func TestStaleAgainstSettledVersion(t *testing.T) {
	for _, tc := range []struct {
		from    Side
		version int64
		stale   bool
	}{{Theirs, 7, true}, {Theirs, 10, true}, {Theirs, 11, false}, {Ours, 20, true}, {Ours, 21, false}} {
		r := newRig(t, tc.from, PolicyNewest)
		r.agree(t, `{"n":1}`, 20, 10)
		r.target.set("k1", 1, `{"n":1}`) // the other side unchanged since the agreement
		o, _ := r.step(t, upsert("e1", tc.version, `{"n":2}`), handlers.Meta{})
		if got := stepOf(o) == handlers.StepSkippedStale; got != tc.stale {
			t.Errorf("from %s version %d: outcome %+v, stale %v", tc.from, tc.version, o, tc.stale)
		}
	}
}

func TestTargetHoldsContentIsUnchanged(t *testing.T) {
	r := newRig(t, Ours, PolicyManual)
	r.target.set("k1", 40, `{"n":2}`)
	o, _ := r.step(t, upsert("e1", 50, `{"n":2}`), handlers.Meta{})
	if stepOf(o) != handlers.StepSkippedUnchanged || o.Ledger != handlers.LedgerSet {
		t.Fatalf("outcome %+v, want skipped_unchanged", o)
	}
	a := r.agreement(t)
	if !a.Found || a.Hash != hashOf(entity, json.RawMessage(`{"n":2}`)) || a.Ours != 50 {
		t.Errorf("agreement %+v: both sides agree on this content at our version 50", a)
	}
}

func TestNoConflictWhenTargetUnchanged(t *testing.T) {
	t.Run("new on both", func(t *testing.T) {
		r := newRig(t, Ours, PolicyManual)
		o, w := r.step(t, upsert("e1", 5, `{"n":1}`), handlers.Meta{})
		if o != nil || w.Event.SendVersion != 0 {
			t.Fatalf("outcome %+v send version %d, want it written as it is", o, w.Event.SendVersion)
		}
	})
	t.Run("changed on our side only", func(t *testing.T) {
		r := newRig(t, Theirs, PolicyManual)
		r.agree(t, `{"n":1}`, 5, 3)
		r.target.set("k1", 5, `{"n":1}`)
		o, w := r.step(t, upsert("e1", 4, `{"n":2}`), handlers.Meta{})
		if o != nil {
			t.Fatalf("outcome %+v, want written", o)
		}
		if w.Event.SendVersion != 6 {
			t.Errorf("send version %d, want 6: above our side's version 5", w.Event.SendVersion)
		}
		if n, _ := r.rdb.HLen(t.Context(), r.keys.For(account).Conflicts(entity)).Result(); n != 0 {
			t.Errorf("%d conflicts kept", n)
		}
	})
}

// conflictRig is a record both sides changed since they agreed on
// {"n":1}: the arriving change from side from is {"n":2} at version mine;
// the other side holds {"n":3} at version other.
func conflictRig(t *testing.T, from Side, policy string, mine, other int64) (*rig, *handlers.Outcome) {
	t.Helper()
	r := newRig(t, from, policy)
	r.agree(t, `{"n":1}`, 2, 2)
	r.target.set("k1", other, `{"n":3}`)
	o, _ := r.step(t, upsert("e1", mine, `{"n":2}`), handlers.Meta{})
	return r, o
}

func TestConflictPolicies(t *testing.T) {
	for _, tc := range []struct {
		name          string
		from          Side
		policy        string
		mine, other   int64
		fromWins      bool
		resolveStream func(r *rig) string
	}{
		{"ours, from ours", Ours, PolicyOurs, 10, 20, true, nil},
		{"ours, from theirs", Theirs, PolicyOurs, 20, 10, false, func(r *rig) string { return r.keys.For(account).Events }},
		{"theirs, from theirs", Theirs, PolicyTheirs, 10, 20, true, nil},
		{"theirs, from ours", Ours, PolicyTheirs, 20, 10, false, func(r *rig) string { return r.keys.Inbound().For(account).Events }},
		{"newest, from ours newer", Ours, PolicyNewest, 20, 10, true, nil},
		{"newest, from ours older", Ours, PolicyNewest, 10, 20, false, func(r *rig) string { return r.keys.Inbound().For(account).Events }},
		{"newest, from theirs newer", Theirs, PolicyNewest, 20, 10, true, nil},
		{"newest, from theirs older", Theirs, PolicyNewest, 10, 20, false, func(r *rig) string { return r.keys.For(account).Events }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, o := conflictRig(t, tc.from, tc.policy, tc.mine, tc.other)
			a := r.agreement(t)
			other := a.Ours
			if tc.from == Ours {
				other = a.Theirs
			}
			if tc.fromWins {
				if o != nil {
					t.Fatalf("outcome %+v, want the winner written", o)
				}
				if other != tc.other {
					t.Errorf("agreement %+v: the other side's version %d is settled (its own event will be stale)", a, tc.other)
				}
				for _, s := range []string{r.keys.For(account).Events, r.keys.Inbound().For(account).Events} {
					if n := len(entries(t, r.rdb, s)); n != 0 {
						t.Errorf("%d entries appended to %s", n, s)
					}
				}
				return
			}
			if stepOf(o) != handlers.StepSkippedConflict || !strings.Contains(o.Error, "policy "+tc.policy) {
				t.Fatalf("outcome %+v, want skipped_conflict by policy %s", o, tc.policy)
			}
			got := entries(t, r.rdb, tc.resolveStream(r))
			if len(got) != 1 {
				t.Fatalf("%d resolution entries, want 1", len(got))
			}
			e := got[0]
			if e[event.FieldID] != "cf-e1" || e[event.FieldData] != `{"n":3}` || e[event.FieldVersion] != strconv.FormatInt(tc.other, 10) ||
				e[handlers.MetaResolved] != "1" {
				t.Errorf("resolution %v: the other side's record, marked resolved", e)
			}
			if tc.from == Theirs {
				// to the partner, through the shared events stream: meant for it only
				if e[handlers.MetaFor] != partner || e[event.FieldOrigin] != nil {
					t.Errorf("resolution to the partner %v: want _ss_for=%s and no origin", e, partner)
				}
			} else if e[event.FieldOrigin] != partner || e[handlers.MetaFor] != nil {
				t.Errorf("resolution to our system %v: want origin %s and no _ss_for", e, partner)
			}
			mine := a.Theirs
			if tc.from == Ours {
				mine = a.Ours
			}
			if mine != tc.mine {
				t.Errorf("agreement %+v: the loser's version %d is settled", a, tc.mine)
			}
		})
	}
}

func TestConflictWithDeletedOtherSide(t *testing.T) {
	r := newRig(t, Ours, PolicyTheirs)
	r.agree(t, `{"n":1}`, 2, 7)
	o, _ := r.step(t, upsert("e1", 10, `{"n":2}`), handlers.Meta{}) // the partner has no record now
	if stepOf(o) != handlers.StepSkippedConflict {
		t.Fatalf("outcome %+v, want skipped_conflict", o)
	}
	got := entries(t, r.rdb, r.keys.Inbound().For(account).Events)
	if len(got) != 1 || got[0][event.FieldOp] != string(event.OpDelete) || got[0][event.FieldVersion] != "8" {
		t.Fatalf("resolution %v: a delete above the partner's settled version 7", got)
	}
}

func TestManualConflictIsDeadLetteredWithBothStates(t *testing.T) {
	r, o := conflictRig(t, Theirs, PolicyManual, 30, 20)
	if stepOf(o) != handlers.StepDead || o.DeadReason != handlers.ReasonConflict {
		t.Fatalf("outcome %+v, want dead, reason conflict", o)
	}
	for _, want := range []string{`ours version 20 {"n":3}`, `theirs version 30 {"n":2}`, "--partner erp", "--take ours|theirs"} {
		if !strings.Contains(o.Error, want) {
			t.Errorf("error %q does not say %q", o.Error, want)
		}
	}
	c, err := ReadConflict(t.Context(), r.rdb, r.keys, account, entity, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Partner != partner || c.From != Theirs || c.Event != "e1" || c.Ours.Version != 20 || string(c.Ours.Data) != `{"n":3}` ||
		c.Theirs.Version != 30 || string(c.Theirs.Data) != `{"n":2}` {
		t.Errorf("conflict kept %+v", c)
	}
	if a := r.agreement(t); a.Ours != 20 {
		t.Errorf("agreement %+v: our version 20 waits in the conflict (our own event is stale)", a)
	}
	for _, s := range []string{r.keys.For(account).Events, r.keys.Inbound().For(account).Events} {
		if n := len(entries(t, r.rdb, s)); n != 0 {
			t.Errorf("%d entries appended to %s by a manual conflict", n, s)
		}
	}
	// settled with ours: the event goes to the partner
	e, err := c.Settle(Ours)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "e1" || e.Version != 20 || string(e.Data) != `{"n":3}` || e.Op != event.OpUpsert {
		t.Errorf("settle event %+v", e)
	}
	if err := Forget(t.Context(), r.rdb, r.keys, account, entity, "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConflict(t.Context(), r.rdb, r.keys, account, entity, "k1"); !errors.Is(err, ErrNoConflict) {
		t.Errorf("after Forget: %v, want ErrNoConflict", err)
	}
}

func TestSettleDeletedSideGoesAboveBoth(t *testing.T) {
	c := Conflict{Event: "e1", Account: account, Entity: entity, Key: "k1",
		Ours: State{Version: 40, Deleted: true}, Theirs: State{Version: 90, Data: json.RawMessage(`{"n":1}`)}}
	e, err := c.Settle(Ours)
	if err != nil || e.Op != event.OpDelete || e.Version != 91 {
		t.Fatalf("settle %+v %v: a delete above both versions", e, err)
	}
	if _, err := c.Settle("both"); err == nil {
		t.Error("take both: no error")
	}
}

func TestResolvedAndProvenAreLifted(t *testing.T) {
	for _, m := range []handlers.Meta{{Resolved: true}, {Proven: proof.Repair}} {
		r := newRig(t, Ours, PolicyManual)
		r.agree(t, `{"n":2}`, 2, 2) // equal content: not taken for an echo
		r.target.set("k1", 50, `{"n":9}`)
		o, w := r.step(t, upsert("settle-e1", 10, `{"n":2}`), m)
		if o != nil || w.Event.SendVersion != 51 {
			t.Errorf("meta %+v: outcome %+v send version %d, want written above the partner's 50", m, o, w.Event.SendVersion)
		}
		r.target.set("k1", 5, `{"n":9}`)
		if o, w := r.step(t, upsert("settle-e1", 10, `{"n":2}`), m); o != nil || w.Event.SendVersion != 0 {
			t.Errorf("meta %+v: outcome %+v send version %d, want its own version (above the partner's 5)", m, o, w.Event.SendVersion)
		}
	}
}

func TestReadFailureRetriesThenDead(t *testing.T) {
	r := newRig(t, Ours, PolicyNewest)
	r.target.err = errors.New("connection refused")
	o, _ := r.step(t, upsert("e1", 10, `{"n":2}`), handlers.Meta{Attempts: 1})
	if stepOf(o) != handlers.StepRetryScheduled || o.Meta.Attempts != 2 || !o.Due.After(now) {
		t.Fatalf("outcome %+v, want a retry counted as attempt 2", o)
	}
	o, _ = r.step(t, upsert("e1", 10, `{"n":2}`), handlers.Meta{Attempts: 2})
	if stepOf(o) != handlers.StepDead || o.DeadReason != handlers.ReasonExhausted {
		t.Fatalf("outcome %+v, want dead once the attempts are used up", o)
	}
}

// Both directions may read a record at once and meet the same conflict:
// the first dead-letters it; the other direction's change, a moment
// later, waits in that one (skipped_conflict) rather than making a second
// dead letter. The same event again (a retry) is dead-lettered as before.
func TestSameConflictMetByBothDirections(t *testing.T) {
	r, o := conflictRig(t, Theirs, PolicyManual, 30, 20)
	if stepOf(o) != handlers.StepDead {
		t.Fatalf("first: %+v", o)
	}
	// the other direction, sharing the partner's keys
	ours := &fakeReader{}
	ours.set("k1", 30, `{"n":2}`)
	out, err := New(Config{Partner: partner, From: Ours, Keys: r.keys, Hash: hashOf, Target: ours,
		Policy: func(string) string { return PolicyManual }, Resolve: func(context.Context, event.Event) error { return nil },
		Clock: func() time.Time { return now.Add(time.Second) }}, r.rdb)
	if err != nil {
		t.Fatal(err)
	}
	// our own change, read before the first dead letter's settled version
	// was recorded: it meets the same conflict
	w := &handlers.Work{Event: upsert("ours-1", 21, `{"n":3}`), Now: now}
	if err := layout.Agree(t.Context(), r.rdb, r.keys.For(account), entity, "k1", "", 0, 0); err != nil {
		t.Fatal(err)
	}
	o2, err := out.manual(t.Context(), w, layout.Agreement{}, source.Record{Version: 30, Data: json.RawMessage(`{"n":2}`)}, true)
	if err != nil {
		t.Fatal(err)
	}
	if stepOf(o2) != handlers.StepSkippedConflict || !strings.Contains(o2.Error, "e1") {
		t.Errorf("the other direction's change: %+v, want skipped_conflict naming dead letter e1", o2)
	}
	// the first event again (its commit failed): dead-lettered again
	if o3, _ := r.step(t, upsert("e1", 30, `{"n":2}`), handlers.Meta{}); stepOf(o3) != handlers.StepDead {
		t.Errorf("the same event again: %+v, want dead", o3)
	}
}

// TestSettledWhileDecidingIsNotReopened: an operator settles a manual
// conflict (the agreement moves to both sides' versions, the conflict is
// forgotten) while another change of the same record is being decided
// against the old agreement. The change is decided again against the
// settled one, stale, and the settled conflict is not reopened as a new
// dead letter.
func TestSettledWhileDecidingIsNotReopened(t *testing.T) {
	r := newRig(t, Theirs, PolicyManual)
	r.agree(t, `{"n":1}`, 2, 2)
	r.target.set("k1", 20, `{"n":3}`)
	r.target.during = func() {
		// `dead replay --take theirs` of the conflict's dead letter
		if err := layout.Agree(t.Context(), r.rdb, r.keys.For(account), entity, "k1", "", 20, 30); err != nil {
			t.Error(err)
		}
		if err := Forget(t.Context(), r.rdb, r.keys, account, entity, "k1"); err != nil {
			t.Error(err)
		}
	}
	o, _ := r.step(t, upsert("e2", 30, `{"n":2}`), handlers.Meta{})
	if stepOf(o) != handlers.StepSkippedStale {
		t.Errorf("outcome %+v, want skipped_stale against the settled agreement", o)
	}
	if c, err := ReadConflict(t.Context(), r.rdb, r.keys, account, entity, "k1"); !errors.Is(err, ErrNoConflict) {
		t.Errorf("conflict %+v (%v) kept after it was settled, want none", c, err)
	}
}
