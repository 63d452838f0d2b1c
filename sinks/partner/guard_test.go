package partner

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/streamsync/streamsync/internal/delivery"
)

// countingGuard lets the first allow calls go and refuses the rest.
type countingGuard struct {
	allow int32
	asked atomic.Int32
}

func (g *countingGuard) Check(context.Context) error {
	if g.asked.Add(1) > g.allow {
		return errors.New("the lease is gone")
	}
	return nil
}

func (g *countingGuard) Unsettled() {}

// Send asks the Guard its context carries (delivery.WithGuard) before each
// call: a refusal ends the delivery Aborted with no call made; without a
// Guard the call goes.
func TestSendAsksTheGuardItsContextCarries(t *testing.T) {
	tests := []struct {
		name  string
		guard *countingGuard
		class delivery.Class
		calls int
	}{
		{"no guard", nil, delivery.Delivered, 1},
		{"guard lets the call go", &countingGuard{allow: 1}, delivery.Delivered, 1},
		{"guard refuses", &countingGuard{allow: 0}, delivery.Aborted, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			ctx := context.Background()
			if tt.guard != nil {
				ctx = delivery.WithGuard(ctx, tt.guard)
			}
			r := f.sink.Send(ctx, ev("e", "x", "k", 1, `{}`))
			if r.Class != tt.class || r.Calls != tt.calls {
				t.Fatalf("%+v, want %v after %d calls", r, tt.class, tt.calls)
			}
			if tt.guard != nil && tt.guard.asked.Load() != 1 {
				t.Fatalf("guard asked %d times, want once", tt.guard.asked.Load())
			}
			if tt.class == delivery.Aborted && (!strings.Contains(r.Detail, "the lease is gone") || f.sim.Snapshot("").Stats.ByStatus["201"] != 0) {
				t.Fatalf("refused, yet %+v and %v", r, f.sim.Snapshot("").Stats.ByStatus)
			}
		})
	}
}
