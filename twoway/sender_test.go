package twoway

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/internal/layout"
)

// fakeSender answers with class, and keeps what it was sent and the
// agreement it saw during the call.
type fakeSender struct {
	r      *rig
	t      *testing.T
	class  delivery.Class
	sent   []event.Event
	during []layout.Agreement
}

func (f *fakeSender) Send(_ context.Context, e event.Event) delivery.Answer {
	f.sent = append(f.sent, e)
	f.during = append(f.during, f.r.agreement(f.t))
	return delivery.Answer{Class: f.class, Status: 200, Detail: "fake"}
}

func TestSenderAgreesContentBeforeAndVersionAfter(t *testing.T) {
	for _, from := range []Side{Ours, Theirs} {
		r := newRig(t, from, PolicyNewest)
		r.agree(t, `{"n":1}`, 3, 4)
		inner := &fakeSender{r: r, t: t, class: delivery.Delivered}
		e := upsert("e1", 9, `{"n":2}`)
		if a := r.pair.Sender(inner).Send(t.Context(), e); a.Class != delivery.Delivered {
			t.Fatalf("answer %+v", a)
		}
		want := hashOf(entity, json.RawMessage(`{"n":2}`))
		if d := inner.during[0]; d.Hash != want || d.Ours != 3 || d.Theirs != 4 {
			t.Errorf("from %s: agreement during the call %+v, want the new content and the old versions", from, d)
		}
		a := r.agreement(t)
		mine, other := a.Ours, a.Theirs
		if from == Theirs {
			mine, other = a.Theirs, a.Ours
		}
		if a.Hash != want || mine != 9 || other != 3 && other != 4 {
			t.Errorf("from %s: agreement after the 2xx %+v, want the content and version 9 on its side", from, a)
		}
	}
}

func TestSenderFailureSettlesNoVersion(t *testing.T) {
	for _, class := range []delivery.Class{delivery.Transient, delivery.Permanent, delivery.ParentMissing, delivery.Aborted} {
		r := newRig(t, Ours, PolicyNewest)
		r.agree(t, `{"n":1}`, 3, 4)
		inner := &fakeSender{r: r, t: t, class: class}
		r.pair.Sender(inner).Send(t.Context(), upsert("e1", 9, `{"n":2}`))
		if a := r.agreement(t); a.Ours != 3 || a.Theirs != 4 {
			t.Errorf("%s: agreement %+v, want no version settled", class, a)
		}
	}
}

func TestSenderLiftsToSendVersion(t *testing.T) {
	r := newRig(t, Ours, PolicyNewest)
	inner := &fakeSender{r: r, t: t, class: delivery.Delivered}
	e := upsert("e1", 9, `{"n":2}`)
	e.SendVersion = 51
	r.pair.Sender(inner).Send(t.Context(), e)
	got := inner.sent[0]
	if got.Version != 51 || got.IdempotencyKey != "e1:51" {
		t.Errorf("sent version %d key %q, want 51 and e1:51 (a new request to the partner)", got.Version, got.IdempotencyKey)
	}
	if a := r.agreement(t); a.Ours != 9 {
		t.Errorf("agreement %+v: our side's own version 9 is settled, not the one sent", a)
	}
	e.SendVersion = 0
	r.pair.Sender(inner).Send(t.Context(), e)
	if got := inner.sent[1]; got.Version != 9 || got.IdempotencyKey != "" {
		t.Errorf("without a send version: sent %d %q", got.Version, got.IdempotencyKey)
	}
}

// A write that failed is tried again: its retry passes the step like the
// first try did, and is neither an echo of itself nor a conflict with the
// content it is about to write.
func TestRetryAfterFailedWriteIsWritten(t *testing.T) {
	for _, class := range []delivery.Class{delivery.Transient, delivery.Permanent, delivery.ParentMissing, delivery.Aborted} {
		for _, fresh := range []bool{false, true} {
			r := newRig(t, Ours, PolicyTheirs)
			if !fresh {
				r.agree(t, `{"n":1}`, 3, 4)
				r.target.set("k1", 4, `{"n":1}`)
			}
			e := upsert("e1", 9, `{"n":2}`)
			if o, _ := r.step(t, e, handlers.Meta{}); o != nil {
				t.Fatalf("first try: %+v", o)
			}
			r.pair.Sender(&fakeSender{r: r, t: t, class: class}).Send(t.Context(), e)
			o, _ := r.step(t, e, handlers.Meta{Attempts: 1})
			if o != nil {
				t.Errorf("%s (new record %v): the retry ended %s: %s", class, fresh, o.Step, o.Error)
			}
			if n := len(entries(t, r.rdb, r.keys.Inbound().For(account).Events)); n != 0 {
				t.Errorf("%s (new record %v): %d resolutions appended", class, fresh, n)
			}
		}
	}
}

// An echo of a write whose answer was lost (a timeout after the partner
// took it) is known, before and after the failure is recorded.
func TestEchoOfWriteWithLostAnswer(t *testing.T) {
	r := newRig(t, Ours, PolicyNewest)
	r.agree(t, `{"n":1}`, 3, 4)
	e := upsert("e1", 9, `{"n":2}`)
	r.pair.Sender(&fakeSender{r: r, t: t, class: delivery.Transient}).Send(t.Context(), e)
	// the partner's echo, in the other direction, finds our system holding it
	in, err := New(Config{Partner: partner, From: Theirs, Keys: r.keys, Hash: hashOf, Target: &fakeReader{recs: nil},
		Policy: func(string) string { return PolicyNewest }, Resolve: func(context.Context, event.Event) error { return nil }}, r.rdb)
	if err != nil {
		t.Fatal(err)
	}
	ours := &fakeReader{}
	ours.set("k1", 9, `{"n":2}`)
	in.cfg.Target = ours
	w := &handlers.Work{Event: upsert("in-1", 77, `{"n":2}`), Now: now}
	o, err := in.Step()(t.Context(), w)
	if err != nil {
		t.Fatal(err)
	}
	if s := stepOf(o); s != handlers.StepSkippedLoop && s != handlers.StepSkippedUnchanged {
		t.Errorf("the echo ended %+v, want skipped", o)
	}
}

// A process that dies between recording what it is about to write and the
// write leaves the content recorded: the event's redelivery is a retry of
// that write, not an echo of it, while another event with that content
// (the other side's echo) still is.
func TestRedeliveryAfterACrashIsNotAnEcho(t *testing.T) {
	r := newRig(t, Ours, PolicyNewest)
	r.agree(t, `{"n":1}`, 3, 4)
	r.target.set("k1", 4, `{"n":1}`)
	e := upsert("e1", 9, `{"n":2}`)
	if _, err := r.pair.recordPending(t.Context(), e); err != nil { // and then the process dies
		t.Fatal(err)
	}
	if o, _ := r.step(t, e, handlers.Meta{}); o != nil {
		t.Fatalf("the redelivered event ended %s: %s; want it written", o.Step, o.Error)
	}
	if o, _ := r.step(t, upsert("echo-1", 10, `{"n":2}`), handlers.Meta{}); stepOf(o) != handlers.StepSkippedLoop {
		t.Errorf("another event with the written content ended %+v, want skipped_loop", o)
	}
}
