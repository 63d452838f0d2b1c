package handlers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/internal/idmap"
	"github.com/streamsync/streamsync/internal/proof"
)

type fakeSender delivery.Answer

func (f fakeSender) Send(context.Context, event.Event) delivery.Answer { return delivery.Answer(f) }

func TestDeliver(t *testing.T) {
	policy := RetryPolicy{Initial: time.Second, Max: 5 * time.Minute, MaxAttempts: 15, Jitter: func() float64 { return 0.5 }}
	const recheck = 30 * time.Second
	tests := []struct {
		name     string
		res      delivery.Answer
		attempts int
		step     Step
		reason   string
		attempt  int
		due      time.Duration
		ledger   LedgerWrite
		aborted  bool
	}{
		{"accepted", delivery.Answer{Class: delivery.Delivered, Status: 201, Calls: 1}, 0, StepDelivered, "", 1, 0, LedgerSet, false},
		{"accepted on the third", delivery.Answer{Class: delivery.Delivered, Status: 200, Calls: 1}, 2, StepDelivered, "", 3, 0, LedgerSet, false},
		{"stale", delivery.Answer{Class: delivery.Stale, Status: 409, Calls: 1}, 0, StepSkippedStale, "", 1, 0, LedgerNone, false},
		{"rejected", delivery.Answer{Class: delivery.Permanent, Status: 422, Calls: 1, Detail: "422"}, 0, StepDead, ReasonRejected, 1, 0, LedgerNone, false},
		{"transient: first backoff", delivery.Answer{Class: delivery.Transient, Status: 503, Calls: 1}, 0, StepRetryScheduled, "", 1, time.Second, LedgerNone, false},
		{"transient: fourth backoff", delivery.Answer{Class: delivery.Transient, Status: 503, Calls: 1}, 3, StepRetryScheduled, "", 4, 8 * time.Second, LedgerNone, false},
		{"transient: capped", delivery.Answer{Class: delivery.Transient, Status: 503, Calls: 1}, 12, StepRetryScheduled, "", 13, 5 * time.Minute, LedgerNone, false},
		{"retry-after wins when longer", delivery.Answer{Class: delivery.Transient, Status: 429, Calls: 1, RetryAfter: time.Minute}, 0, StepRetryScheduled, "", 1, time.Minute, LedgerNone, false},
		{"unauthorized, with no credentials to refresh", delivery.Answer{Class: delivery.Unauthorized, Status: 401, Calls: 1}, 0, StepRetryScheduled, "", 1, time.Second, LedgerNone, false},
		{"exhausted", delivery.Answer{Class: delivery.Transient, Status: 503, Calls: 1}, 14, StepDead, ReasonExhausted, 15, 0, LedgerNone, false},
		{"parent missing at the partner", delivery.Answer{Class: delivery.ParentMissing, Status: 409, Calls: 1}, 0, StepParked, "", 1, recheck, LedgerNone, false},
		{"parent missing with a longer retry-after", delivery.Answer{Class: delivery.ParentMissing, Status: 409, Calls: 1, RetryAfter: time.Hour}, 0, StepParked, "", 1, time.Hour, LedgerNone, false},
		{"parent missing, attempts used up", delivery.Answer{Class: delivery.ParentMissing, Status: 409, Calls: 1}, 14, StepDead, ReasonParentMissing, 15, 0, LedgerNone, false},
		{"outage waited out: failed probes not counted", delivery.Answer{Class: delivery.Delivered, Status: 200, Calls: 1}, 0, StepDelivered, "", 1, 0, LedgerSet, false},
		{"aborted", delivery.Answer{Class: delivery.Aborted}, 0, "", "", 0, 0, LedgerNone, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &Work{Event: upsert("e", 1, `{}`), Meta: Meta{Attempts: tt.attempts}, Now: now}
			o, err := Deliver(fakeSender(tt.res), policy, recheck)(context.Background(), w)
			if tt.aborted {
				if !errors.Is(err, ErrAborted) || o != nil {
					t.Fatalf("want ErrAborted, got %+v %v", o, err)
				}
				return
			}
			if err != nil || o.Step != tt.step || o.DeadReason != tt.reason || o.Attempt != tt.attempt || o.Meta.Attempts != tt.attempt || o.Ledger != tt.ledger || o.HTTPStatus != tt.res.Status {
				t.Fatalf("got %+v %v", o, err)
			}
			if tt.due != 0 && o.Due.Sub(now) != tt.due {
				t.Fatalf("due in %s, want %s", o.Due.Sub(now), tt.due)
			}
		})
	}
}

// The id map's write travels from a delivered answer to the outcome the
// commit records; any other outcome records none, whatever the answer holds.
func TestDeliverCarriesIDMap(t *testing.T) {
	policy := RetryPolicy{Initial: time.Second, Max: time.Minute, MaxAttempts: 5, Jitter: func() float64 { return 0.5 }}
	set := idmap.Write{Op: idmap.WriteSet, ID: "P-1"}
	for _, tc := range []struct {
		name  string
		class delivery.Class
		want  idmap.Write
	}{
		{"delivered", delivery.Delivered, set},
		{"stale", delivery.Stale, idmap.Write{}},
		{"transient", delivery.Transient, idmap.Write{}},
		{"rejected", delivery.Permanent, idmap.Write{}},
		{"parent missing", delivery.ParentMissing, idmap.Write{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &Work{Event: upsert("e", 1, `{}`), Now: now}
			o, err := Deliver(fakeSender(delivery.Answer{Class: tc.class, Status: 200, Calls: 1, IDMap: set}), policy, time.Second)(context.Background(), w)
			if err != nil || o.IDMap != tc.want {
				t.Fatalf("outcome %+v, %v; want id map %+v", o, err, tc.want)
			}
		})
	}
}

// A proven repair the partner accepts sets the ledger whatever it held; a
// claimed one (origin reconcile, a proof that did not verify) only raises
// it. Its proof travels into a retry's entry.
func TestDeliverRepair(t *testing.T) {
	policy := RetryPolicy{Initial: time.Second, Max: time.Minute, MaxAttempts: 5, Jitter: func() float64 { return 0.5 }}
	tests := []struct {
		name   string
		meta   Meta
		res    delivery.Answer
		ledger LedgerWrite
	}{
		{"proven repair delivered", Meta{Proof: "repair:p", Proven: proof.Repair}, delivery.Answer{Class: delivery.Delivered, Status: 200, Calls: 1}, LedgerForce},
		{"unproven repair delivered", Meta{Proof: "repair:p"}, delivery.Answer{Class: delivery.Delivered, Status: 200, Calls: 1}, LedgerSet},
		{"proven replay delivered", Meta{Proof: "replay:p", Proven: proof.Replay}, delivery.Answer{Class: delivery.Delivered, Status: 200, Calls: 1}, LedgerSet},
		{"proven repair retried", Meta{Proof: "repair:p", Proven: proof.Repair}, delivery.Answer{Class: delivery.Transient, Status: 503, Calls: 1}, LedgerNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &Work{Event: repair(3, `{}`), Meta: tt.meta, Now: now}
			o, err := Deliver(fakeSender(tt.res), policy, time.Second)(context.Background(), w)
			if err != nil || o.Ledger != tt.ledger || o.Meta.Proof != tt.meta.Proof {
				t.Fatalf("got %+v %v, want ledger %d and the proof carried", o, err, tt.ledger)
			}
		})
	}
}

func TestBackoffJitterStaysWithin20Percent(t *testing.T) {
	p := RetryPolicy{Initial: time.Second, Max: time.Minute}
	for i := 0; i < 1000; i++ {
		d := p.Backoff(3)
		if d < 3200*time.Millisecond || d >= 4800*time.Millisecond {
			t.Fatalf("backoff(3) = %s, want 4s ±20%%", d)
		}
	}
	var total time.Duration
	q := RetryPolicy{Initial: time.Second, Max: 5 * time.Minute, Jitter: func() float64 { return 0.5 }}
	for n := 1; n < 15; n++ {
		total += q.Backoff(n)
	}
	if total < 30*time.Minute || total > 45*time.Minute {
		t.Fatalf("the 14 waits of the defaults add up to %s, want about 40 min", total)
	}
}

// Delivered with nothing sent (a delete of a record the partner never
// got): the row keeps why; a delivery that made a call keeps no error.
func TestDeliveredWithoutACallSaysWhy(t *testing.T) {
	policy := RetryPolicy{Initial: time.Second, Max: time.Minute, MaxAttempts: 5, Jitter: func() float64 { return 0.5 }}
	w := &Work{Event: upsert("e", 1, `{}`), Now: now}
	why := "nothing sent: the partner never got the record"
	o, err := Deliver(fakeSender(delivery.Answer{Class: delivery.Delivered, Detail: why}), policy, time.Second)(context.Background(), w)
	if err != nil || o.Step != StepDelivered || o.Error != why {
		t.Fatalf("outcome %+v, %v", o, err)
	}
	o, err = Deliver(fakeSender(delivery.Answer{Class: delivery.Delivered, Status: 200, Calls: 1, Detail: "200 OK"}), policy, time.Second)(context.Background(), w)
	if err != nil || o.Error != "" {
		t.Fatalf("outcome %+v, %v", o, err)
	}
}

// A child's delete that the partner refuses for want of its parent, which
// the ledger holds as deleted, is delivered: the child is gone with it.
// With its parent present, the same answer parks it as before.
func TestChildDeleteAfterParentDeleteIsDelivered(t *testing.T) {
	policy := RetryPolicy{Initial: time.Second, Max: time.Minute, MaxAttempts: 5, Jitter: func() float64 { return 0.5 }}
	del := childDelete("c")
	gone := LedgerOf(event.Event{ID: "p", Op: event.OpDelete, Version: 2})
	answer := delivery.Answer{Class: delivery.ParentMissing, Status: 424, Calls: 1, Detail: "424 learner-missing"}
	o, err := Deliver(fakeSender(answer), policy, time.Second)(context.Background(), &Work{Event: del, Parent: gone, Now: now})
	if err != nil || o.Step != StepDelivered || o.Ledger != LedgerSet {
		t.Fatalf("outcome %+v, %v", o, err)
	}
	o, err = Deliver(fakeSender(answer), policy, time.Second)(context.Background(), &Work{Event: del, Parent: LedgerOf(upsert("p", 1, `{}`)), Now: now})
	if err != nil || o.Step != StepParked {
		t.Fatalf("with its parent present: %+v, %v", o, err)
	}
}
