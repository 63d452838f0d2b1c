package pipeline

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
)

// newEndToEnd is streamsync_end_to_end_seconds: from the producer's `ts`
// (docs/events.md, unix ms) to the event's terminal step, by outcome. Buckets
// from 5 ms to about 45 min, the longest a retried event takes by default.
func newEndToEnd() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "streamsync_end_to_end_seconds",
		Help:    "Time from the event's ts (producer time) to its terminal step, by outcome: delivered, skipped or dead (invalid included). Events without ts are not observed.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 20),
	}, []string{"outcome"})
}

// outcomeOf maps a terminal step to the histogram's outcome label; ok is
// false for a step that is not terminal (parked, retry_scheduled, …).
func outcomeOf(step handlers.Step) (outcome string, ok bool) {
	switch step {
	case handlers.StepDelivered:
		return "delivered", true
	case handlers.StepSkippedStale, handlers.StepSkippedUnchanged, handlers.StepSkippedLoop:
		return "skipped", true
	case handlers.StepDead, handlers.StepInvalid:
		return "dead", true
	}
	return "", false
}

// observeEndToEnd records an event's end-to-end latency when step ends it
// and the producer gave a ts. A ts in the future (a producer clock ahead of
// ours) counts as 0.
func (m *metrics) observeEndToEnd(e event.Event, step handlers.Step, now time.Time) {
	outcome, ok := outcomeOf(step)
	if !ok || e.TS <= 0 {
		return
	}
	d := max(now.Sub(time.UnixMilli(e.TS)), 0)
	m.endToEnd.WithLabelValues(outcome).Observe(d.Seconds())
}
