package pipeline

import (
	"context"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/sinks/partner"
)

// PartnerSender lets the deliver step use the partner HTTP sink.
func PartnerSender(s *partner.Sink) handlers.Sender { return partnerSender{s} }

type partnerSender struct{ s *partner.Sink }

func (p partnerSender) Send(ctx context.Context, e event.Event) delivery.Answer {
	if lc, ok := ctx.Value(leaseCheckKey{}).(*leaseCheck); ok {
		return p.s.SendGuarded(ctx, e, lc) // every call asks for the account's lease
	}
	return p.s.Send(ctx, e)
}
