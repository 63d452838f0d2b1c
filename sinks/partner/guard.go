package partner

import (
	"context"
	"net/http/httptrace"
	"sync/atomic"
)

// Guard is asked before every partner call of one delivery whether the call
// may go, and told of every call whose answer was not read. The pipeline's
// account lease is one (docs/scaling.md: one delivery per account at a
// time): a delivery may wait long for the rate limit or the breaker, or
// call again after a 401, and its lease must still be held when each call
// goes, not only when the delivery began.
type Guard interface {
	// Check returns nil when the call may go now. An error ends the delivery
	// before the call, as Aborted with the error's text as its detail.
	Check(ctx context.Context) error
	// Unsettled is told, right after a call, that the call reached the
	// partner (or may have) and its answer was not read to the end: a
	// timeout on our side, a connection cut mid-call, a stop. The partner
	// may still be working on it.
	Unsettled()
}

// check asks g, when there is one, whether a call may go now.
func check(ctx context.Context, g Guard) error {
	if g == nil {
		return nil
	}
	return g.Check(ctx)
}

// unsettled tells g, when there is one, that r's call may still be at the
// partner.
func unsettled(g Guard, r result) {
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
