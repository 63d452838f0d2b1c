package partner

import (
	"context"
	"net/http/httptrace"
	"sync/atomic"

	"github.com/streamsync/streamsync/internal/delivery"
)

// check asks g, when there is one, whether a call may go now.
func check(ctx context.Context, g delivery.Guard) error {
	if g == nil {
		return nil
	}
	return g.Check(ctx)
}

// unsettled tells g, when there is one, that r's call may still be at the
// partner.
func unsettled(g delivery.Guard, r result) {
	if g != nil && r.unsettled {
		g.Unsettled()
	}
}

// withReached returns ctx with an HTTP trace that sets reached once the
// request has a connection, so once any of its bytes may reach the partner;
// before that (a refused connection, a failed name lookup) the partner
// cannot have seen it.
func withReached(ctx context.Context, reached *atomic.Bool) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { reached.Store(true) },
	})
}
