package pipeline

import "github.com/prometheus/client_golang/prometheus"

// metrics of the pipeline, registered on the Registerer the caller gives.
// Step counts (streamsync_steps_total) are not here: Gauges reports them
// from Redis, where every step of every process is counted, moves and
// replays included.
type metrics struct {
	dead     *prometheus.CounterVec
	latency  prometheus.Histogram
	handled  prometheus.Histogram
	moved    *prometheus.CounterVec
	failures prometheus.Counter
	endToEnd *prometheus.HistogramVec
	// sourceFailures counts failed source reads of sync events (docs/backfill.md).
	sourceFailures prometheus.Counter
	// proofsRejected counts entries whose proof field does not verify
	// (docs/security.md).
	proofsRejected prometheus.Counter
	// vanished counts entries deleted from the events stream while pending.
	vanished prometheus.Counter
	passedBy prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamsync_dead_total", Help: "Events dead-lettered, by reason."}, []string{"reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "streamsync_partner_call_seconds", Help: "Duration of the last partner call of a delivery.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		handled: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "streamsync_event_handle_seconds", Help: "Time from reading an entry to committing its outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		moved:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamsync_moved_total", Help: "Events moved from a ZSET back into the stream, by ZSET."}, []string{"zset"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamsync_handler_failures_total", Help: "Entries whose handling failed and will be handed out again."}),
		endToEnd: newEndToEnd(),
		sourceFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamsync_source_failures_total",
			Help: "Failed source reads of op=sync events; each is retried like a partner failure."}),
		proofsRejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamsync_proofs_rejected_total",
			Help: "Entries whose proof field does not verify; each was handled as an ordinary event."}),
		passedBy: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamsync_events_passed_by_total",
			Help: "Entries of the events stream that are not this partner's (its route refuses them, or they were re-entered for another partner), acked with no step."}),
		vanished: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamsync_entries_vanished_total",
			Help: "Entries deleted from the events stream while pending (a producer's XTRIM or XDEL), each dead-lettered invalid with its stream id."}),
	}
	if reg != nil {
		reg.MustRegister(m.dead, m.latency, m.handled, m.moved, m.failures, m.endToEnd, m.sourceFailures, m.proofsRejected, m.vanished, m.passedBy)
	}
	return m
}
