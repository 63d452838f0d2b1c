package pipeline

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
)

func TestObserveEndToEnd(t *testing.T) {
	now := time.UnixMilli(1_700_000_010_000)
	tests := []struct {
		name    string
		ts      int64
		step    handlers.Step
		outcome string // "" = not observed
		want    float64
	}{
		{"delivered", 1_700_000_000_000, handlers.StepDelivered, "delivered", 10},
		{"skipped", 1_700_000_009_500, handlers.StepSkippedStale, "skipped", 0.5},
		{"invalid counts as dead", 1_700_000_000_000, handlers.StepInvalid, "dead", 10},
		{"producer clock ahead counts as 0", 1_700_000_020_000, handlers.StepDelivered, "delivered", 0},
		{"not terminal", 1_700_000_000_000, handlers.StepParked, "", 0},
		{"no ts", 0, handlers.StepDelivered, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMetrics(prometheus.NewRegistry())
			m.observeEndToEnd(event.Event{TS: tt.ts}, tt.step, now)
			reg := prometheus.NewRegistry()
			reg.MustRegister(m.endToEnd)
			got := gather(t, reg)
			if tt.outcome == "" {
				if len(got) != 0 {
					t.Fatalf("observed %v, want nothing", got)
				}
				return
			}
			if got["streamsync_end_to_end_seconds{outcome="+tt.outcome+"}"] != 1 {
				t.Fatalf("observations %v, want one for %s", got, tt.outcome)
			}
			mfs, _ := reg.Gather()
			if sum := mfs[0].GetMetric()[0].GetHistogram().GetSampleSum(); sum != tt.want {
				t.Errorf("observed %vs, want %vs", sum, tt.want)
			}
		})
	}
}
