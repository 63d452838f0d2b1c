package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/internal/proof"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		fields map[string]string
		meta   Meta
		errHas string
	}{
		{"valid with meta", map[string]string{"id": "e", "account": "a", "entity": "x", "key": "k", "op": "delete", "version": "2",
			MetaAttempts: "3", MetaUnseenSince: "1700000000000", MetaReplay: "1", MetaProof: "replay:x"},
			Meta{Attempts: 3, UnseenSince: 1700000000000, Replay: true, Proof: "replay:x"}, ""},
		{"valid", map[string]string{"id": "e", "account": "a", "entity": "x", "key": "k", "op": "upsert", "version": "2", "data": `{}`}, Meta{}, ""},
		{"invalid", map[string]string{"id": "e", "op": "merge"}, Meta{}, `op: "merge" is not upsert, delete or sync`},
		{"meta does not count as data", map[string]string{"id": "e", "account": "a", "entity": "x", "key": "k", "op": "upsert", "version": "2", MetaAttempts: "1"}, Meta{}, "data: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, m, o := Validate(tt.fields, event.Limits{})
			if tt.errHas == "" {
				if o != nil || m != tt.meta {
					t.Fatalf("outcome %+v meta %+v, want meta %+v", o, m, tt.meta)
				}
				return
			}
			if o == nil || o.Step != StepInvalid || o.DeadReason != ReasonInvalid || !strings.Contains(o.Error, tt.errHas) {
				t.Fatalf("outcome %+v, want invalid with %q", o, tt.errHas)
			}
		})
	}
}

func TestLoopFilter(t *testing.T) {
	step := LoopFilter("partner")
	tests := []struct {
		origin string
		step   Step
	}{{"partner", StepSkippedLoop}, {"crm", ""}, {"", ""}}
	for _, tt := range tests {
		e := upsert("e", 1, `{}`)
		e.Origin = tt.origin
		o, _ := step(context.Background(), &Work{Event: e})
		// an echo records its content, never its version (docs/security.md)
		if (o == nil && tt.step != "") || (o != nil && (o.Step != tt.step || o.Ledger != LedgerContent)) {
			t.Errorf("origin %q: %+v", tt.origin, o)
		}
	}
}

func TestLedgerGuard(t *testing.T) {
	have := LedgerOf(upsert("e0", 10, `{"a":1,"b":[1,2]}`))
	gone := LedgerOf(event.Event{ID: "e0", Op: event.OpDelete, Version: 10})
	tests := []struct {
		name   string
		e      event.Event
		record Ledger
		meta   Meta
		step   Step
		ledger LedgerWrite
	}{
		{"no ledger entry", upsert("e1", 1, `{}`), Ledger{}, Meta{}, "", LedgerNone},
		{"older version", upsert("e1", 9, `{"a":2}`), have, Meta{}, StepSkippedStale, LedgerNone},
		{"same version (duplicate)", upsert("e0", 10, `{"a":1,"b":[1,2]}`), have, Meta{}, StepSkippedStale, LedgerNone},
		{"newer, same content in another key order", upsert("e2", 11, `{ "b":[1,2], "a":1 }`), have, Meta{}, StepSkippedUnchanged, LedgerBump},
		{"newer, changed", upsert("e2", 11, `{"a":1,"b":[2,1]}`), have, Meta{}, "", LedgerNone},
		{"replayed passes once", upsert("e1", 9, `{"a":2}`), have, Meta{Replay: true, Proven: proof.Replay}, "", LedgerNone},
		{"a replay marker without a proof is checked", upsert("e1", 9, `{"a":2}`), have, Meta{Replay: true, Proof: "replay:forged"}, StepSkippedStale, LedgerNone},
		{"a proven repair is never stale", repair(10, `{"a":1,"b":[1,2]}`), have, Meta{Proven: proof.Repair}, "", LedgerNone},
		{"a proven repair is never unchanged", repair(11, `{"a":1,"b":[1,2]}`), have, Meta{Proven: proof.Repair}, "", LedgerNone},
		{"origin reconcile without a proof is stale", repair(10, `{"a":1,"b":[1,2]}`), have, Meta{}, StepSkippedStale, LedgerNone},
		{"origin reconcile without a proof is unchanged", repair(11, `{"a":1,"b":[1,2]}`), have, Meta{Proof: "repair:forged"}, StepSkippedUnchanged, LedgerBump},
		{"delete of a deleted record", event.Event{ID: "e3", Op: event.OpDelete, Version: 12}, gone, Meta{}, StepSkippedUnchanged, LedgerBump},
		{"upsert of a deleted record with its old content", upsert("e3", 12, `{"a":1,"b":[1,2]}`), gone, Meta{}, "", LedgerNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := LedgerGuard()(context.Background(), &Work{Event: tt.e, Record: tt.record, Meta: tt.meta})
			if err != nil {
				t.Fatal(err)
			}
			if tt.step == "" {
				if o != nil {
					t.Fatalf("want it passed on, got %+v", o)
				}
				return
			}
			if o == nil || o.Step != tt.step || o.Ledger != tt.ledger {
				t.Fatalf("got %+v, want %s", o, tt.step)
			}
		})
	}
}

func TestDependencyGate(t *testing.T) {
	const maxWait, recheck = 10 * time.Minute, 30 * time.Second
	gate := DependencyGate(maxWait, recheck)
	parentHere := LedgerOf(upsert("p", 1, `{}`))
	parentGone := LedgerOf(event.Event{ID: "p", Op: event.OpDelete, Version: 2})
	tests := []struct {
		name   string
		e      event.Event
		parent Ledger
		state  State
		meta   Meta
		step   Step
		due    time.Time
		unseen int64
		reason string
	}{
		{"no parent", upsert("c", 1, `{}`), Ledger{}, "", Meta{}, "", time.Time{}, 0, ""},
		{"parent delivered", child("c"), parentHere, "", Meta{}, "", time.Time{}, 0, ""},
		{"parent deleted: wait", child("c"), parentGone, "", Meta{}, StepParked, now.Add(recheck), now.UnixMilli(), ""},
		{"parent deleted, the child's delete: no wait", childDelete("c"), parentGone, "", Meta{}, "", time.Time{}, 0, ""},
		{"parent deleted, past max wait", child("c"), parentGone, "", Meta{UnseenSince: now.Add(-maxWait).UnixMilli()}, StepDead, time.Time{}, 0, ReasonParentMissing},
		{"parent unseen: start counting", child("c"), Ledger{}, "", Meta{}, StepParked, now.Add(recheck), now.UnixMilli(), ""},
		{"parent unseen: due no later than max wait", child("c"), Ledger{}, "", Meta{UnseenSince: now.Add(-maxWait + 5*time.Second).UnixMilli()}, StepParked, now.Add(5 * time.Second), now.Add(-maxWait + 5*time.Second).UnixMilli(), ""},
		{"parent unseen past max wait", child("c"), Ledger{}, "", Meta{UnseenSince: now.Add(-maxWait).UnixMilli()}, StepDead, time.Time{}, 0, ReasonParentMissing},
		{"parent retrying: wait, clock stopped", child("c"), Ledger{}, NewState(StateRetry, "p1"), Meta{UnseenSince: now.Add(-time.Hour).UnixMilli()}, StepParked, now.Add(recheck), 0, ""},
		{"parent parked: wait", child("c"), Ledger{}, NewState(StateParked, "p1"), Meta{}, StepParked, now.Add(recheck), 0, ""},
		{"parent dead", child("c"), Ledger{}, NewState(StateDead, "p1"), Meta{}, StepDead, time.Time{}, 0, ReasonParentMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := gate(context.Background(), &Work{Event: tt.e, Parent: tt.parent, ParentState: tt.state, Meta: tt.meta, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if tt.step == "" {
				if o != nil {
					t.Fatalf("want it passed on, got %+v", o)
				}
				return
			}
			if o == nil || o.Step != tt.step || o.DeadReason != tt.reason {
				t.Fatalf("got %+v, want %s %s", o, tt.step, tt.reason)
			}
			if tt.step == StepParked && (!o.Due.Equal(tt.due) || o.Meta.UnseenSince != tt.unseen) {
				t.Fatalf("due %s unseen %d, want %s %d", o.Due, o.Meta.UnseenSince, tt.due, tt.unseen)
			}
		})
	}
}

func childDelete(id string) event.Event {
	e := child(id)
	e.Op, e.Data = event.OpDelete, nil
	return e
}

func TestChainStopsAtFirstOutcome(t *testing.T) {
	var ran []string
	step := func(name string, o *Outcome) StepFunc {
		return func(context.Context, *Work) (*Outcome, error) { ran = append(ran, name); return o, nil }
	}
	o, _ := Chain(step("a", nil), step("b", &Outcome{Step: StepSkippedLoop}), step("c", nil))(context.Background(), &Work{})
	if o.Step != StepSkippedLoop || strings.Join(ran, "") != "ab" {
		t.Fatalf("outcome %+v, ran %v", o, ran)
	}
}

func TestLedgerRoundTrip(t *testing.T) {
	for _, l := range []Ledger{
		{Found: true, Version: 1732350000123, Hash: "abc", Deleted: true, EventID: "evt|with|bars"},
		{Found: true, Version: 7, Hash: "h", EventID: "evt|1", Account: "acc|7\x1f\ttab"},
		{Found: true, Version: 7, Hash: "h", EventID: "", Account: "acc"},
	} {
		if got := ParseLedger(l.String()); got != l {
			t.Fatalf("%q parsed as %+v, want %+v", l.String(), got, l)
		}
	}
	// An entry written before the ledger kept accounts.
	if got := ParseLedger("5|h|0|evt|x"); got != (Ledger{Found: true, Version: 5, Hash: "h", EventID: "evt|x"}) {
		t.Fatalf("old entry parsed as %+v", got)
	}
	for _, bad := range []string{"", "x|y|0|z", "1|h|0"} {
		if ParseLedger(bad).Found {
			t.Errorf("%q parsed as found", bad)
		}
	}
}

// NewSteps runs the steps in their order, each inside the middleware, with
// the pipeline's lookup between validate and the others.
func TestNewStepsOrder(t *testing.T) {
	entry := map[string]string{"id": "e", "account": "a", "entity": "x", "key": "k", "op": "upsert", "version": "1", "data": `{}`}
	cfg := StepsConfig{PartnerName: "partner", Retry: RetryPolicy{Initial: time.Second, Max: time.Minute, MaxAttempts: 3}, MaxWait: time.Minute,
		Recheck: time.Second, Sender: fakeSender(delivery.Answer{Class: delivery.Delivered, Status: 201, Calls: 1})}
	tests := []struct {
		name string
		wrap bool
		ran  string
	}{
		{"wrapped", true, "validate | sync loop ledger gate deliver"},
		{"no middleware", false, "|"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ran []string
			var wrap Middleware
			if tt.wrap {
				wrap = func(name string, s StepFunc) StepFunc {
					return func(ctx context.Context, w *Work) (*Outcome, error) {
						ran = append(ran, name)
						return s(ctx, w)
					}
				}
			}
			steps := NewSteps(cfg, wrap)
			w := &Work{Fields: entry, Now: now}
			if o, err := steps.Validate(context.Background(), w); o != nil || err != nil || w.Event.ID != "e" {
				t.Fatalf("validate: %+v %v, event %+v", o, err, w.Event)
			}
			ran = append(ran, "|")
			o, err := steps.Run(context.Background(), w)
			if err != nil || o == nil || o.Step != StepDelivered {
				t.Fatalf("run: %+v %v", o, err)
			}
			if got := strings.Join(ran, " "); got != tt.ran {
				t.Fatalf("ran %q, want %q", got, tt.ran)
			}
		})
	}
}
