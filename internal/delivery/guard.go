package delivery

import "context"

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

type guardKey struct{}

// WithGuard returns ctx carrying g: a sink asks g before every call of a
// delivery made with ctx. The deliver step passes ctx on untouched, so the
// pipeline guards a delivery without the steps or the sink knowing it.
func WithGuard(ctx context.Context, g Guard) context.Context {
	return context.WithValue(ctx, guardKey{}, g)
}

// GuardFrom is the Guard ctx carries; nil when it carries none.
func GuardFrom(ctx context.Context) Guard {
	g, _ := ctx.Value(guardKey{}).(Guard)
	return g
}
