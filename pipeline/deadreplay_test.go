package pipeline

import (
	"context"
	"github.com/streamsync/streamsync/inspect"
	"testing"
	"time"

	"github.com/streamsync/streamsync/partnersim"
)

// ReplayDead replays by reason the dead letters that died since a time.
func TestReplayDeadByReasonSince(t *testing.T) {
	h := newHarness(t, options{})
	h.faults(partnersim.Faults{RejectPrefix: "bad"})
	h.upsert("e1", "acc", "main", "bad-1", 7, `{"x":1}`)
	h.upsert("e2", "acc2", "main", "bad-2", 7, `{"x":2}`)
	h.waitTerminal([]string{"e1", "e2"}, 10*time.Second)
	h.faults(partnersim.Faults{})
	ops := inspect.DeadOps{RDB: h.rdb, Keys: h.keys, Instance: "op", AttemptLog: true, Clock: h.clock}
	ctx := context.Background()
	later := h.clock.Now().Add(time.Hour)
	tests := []struct {
		name    string
		reasons []string
		since   time.Time
		want    int
	}{
		{name: "died before since", reasons: []string{"rejected"}, since: later, want: 0},
		{name: "another reason", reasons: []string{"exhausted", "parent_missing"}, want: 0},
		{name: "the reason, since long ago", reasons: []string{"exhausted", "rejected"}, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ops.ReplayDead(ctx, tt.reasons, tt.since)
			if err != nil || n != tt.want {
				t.Fatalf("replayed %d (%v), want %d", n, err, tt.want)
			}
		})
	}
	h.waitSteps("e1", "dead", "replayed", "delivered")
	h.waitSteps("e2", "dead", "replayed", "delivered")
}
