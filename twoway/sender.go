package twoway

import (
	"context"
	"fmt"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/delivery"
)

// Sender wraps the sender of this direction: the record's agreement holds
// the content about to be written, and once the other side answers 2xx
// the version of the side it came from too; when the write fails, the
// agreement goes back to what it was.
func (p *Pair) Sender(inner handlers.Sender) handlers.Sender { return &sender{p: p, inner: inner} }

type sender struct {
	p     *Pair
	inner handlers.Sender
}

func (s *sender) Send(ctx context.Context, e event.Event) delivery.Answer {
	// The other side may echo the write before its answer reaches us: the
	// content is recorded before the call (the versions only after it), so
	// that an echo is known whenever it comes. A write that fails
	// is undone, so that its retry is not taken for an echo of itself.
	w, err := s.p.recordPending(ctx, e)
	if err != nil {
		return delivery.Answer{Class: delivery.Transient, Detail: "two-way: recording what is about to be written: " + err.Error()}
	}
	sent := e
	if e.SendVersion > 0 {
		// written over the other side's higher version (Step); the same
		// id with another body is a new request to the partner
		sent.Version = e.SendVersion
		sent.IdempotencyKey = fmt.Sprintf("%s:%d", e.IdemKey(), e.SendVersion)
	}
	a := s.inner.Send(ctx, sent)
	if a.Class != delivery.Delivered {
		// An echo of a write that landed after all (its answer lost) finds
		// the other side holding its content: skipped_unchanged.
		if err := s.p.undo(context.WithoutCancel(ctx), w); err != nil {
			s.p.cfg.Logger.Warn("two-way: the agreement of a record whose write failed was not put back; its retry may be taken for an echo",
				"partner", s.p.cfg.Partner, "entity", e.Entity, "key", e.Key, "err", err)
		}
		return a
	}
	// Not ctx: the write is done; what it settles must be kept. A failure
	// here costs one echo's round trip at most.
	if err := s.p.agree(context.WithoutCancel(ctx), e, s.p.hash(e), s.p.cfg.From, e.Version); err != nil {
		s.p.cfg.Logger.Warn("two-way: the agreement of a delivered record was not recorded; its echo will be written back once",
			"partner", s.p.cfg.Partner, "entity", e.Entity, "key", e.Key, "err", err)
	}
	return a
}
