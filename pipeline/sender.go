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

var verdicts = map[delivery.Class]handlers.Verdict{
	delivery.Delivered:     handlers.Accepted,
	delivery.Stale:         handlers.Stale,
	delivery.ParentMissing: handlers.ParentMissing,
	delivery.Transient:     handlers.Transient,
	delivery.Unauthorized:  handlers.Transient,
	delivery.Permanent:     handlers.Rejected,
	delivery.Aborted:       handlers.Aborted,
	delivery.AuthRefused:   handlers.Transient, // Send waits instead; never returned
}

func (p partnerSender) Send(ctx context.Context, e event.Event) handlers.SendResult {
	var r delivery.Answer
	if lc, ok := ctx.Value(leaseCheckKey{}).(*leaseCheck); ok {
		r = p.s.SendGuarded(ctx, e, lc) // every call asks for the account's lease
	} else {
		r = p.s.Send(ctx, e)
	}
	v, ok := verdicts[r.Class]
	if !ok {
		v = handlers.Transient
	}
	return handlers.SendResult{Verdict: v, Status: r.Status, Latency: r.Latency, RetryAfter: r.RetryAfter, Detail: r.Detail, Calls: r.Calls}
}
