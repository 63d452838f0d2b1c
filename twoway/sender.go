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
// the version of the side it came from too.
func (p *Pair) Sender(inner handlers.Sender) handlers.Sender { return &sender{p: p, inner: inner} }

type sender struct {
	p     *Pair
	inner handlers.Sender
}

func (s *sender) Send(ctx context.Context, e event.Event) delivery.Answer {
	// The other side may echo the write before its answer reaches us: the
	// content is recorded before the call (the versions only after it), so
	// that an echo is known whenever it comes. Should the write fail, an
	// arriving change with this very content finds both sides holding it.
	if err := s.p.agree(ctx, e, s.p.hash(e), s.p.cfg.From, 0); err != nil {
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
	if a.Class == delivery.Delivered {
		// Not ctx: the write is done; what it settles must be kept. A
		// failure here costs one echo's round trip at most.
		if err := s.p.agree(context.WithoutCancel(ctx), e, s.p.hash(e), s.p.cfg.From, e.Version); err != nil {
			s.p.cfg.Logger.Warn("two-way: the agreement of a delivered record was not recorded; its echo will be written back once",
				"partner", s.p.cfg.Partner, "entity", e.Entity, "key", e.Key, "err", err)
		}
	}
	return a
}
