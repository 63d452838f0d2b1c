package twoway

import (
	"context"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/delivery"
)

// Sender wraps the sender of this direction: once the other side answers
// 2xx to a write, the record's agreement holds what it got and the
// version of the side it came from.
func (p *Pair) Sender(inner handlers.Sender) handlers.Sender { return &sender{p: p, inner: inner} }

type sender struct {
	p     *Pair
	inner handlers.Sender
}

func (s *sender) Send(ctx context.Context, e event.Event) delivery.Answer {
	a := s.inner.Send(ctx, e)
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
