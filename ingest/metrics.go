package ingest

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	refused *prometheus.CounterVec
}

// Reasons of streamsync_ingest_refused_total.
const (
	refusedUnauthorized  = "unauthorized"
	refusedTooManyEvents = "too_many_events"
	refusedTooLarge      = "body_too_large"
	refusedTooSlow       = "body_too_slow"
	refusedInvalid       = "invalid"
)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamsync_ingest_refused_total",
			Help: "Ingest requests refused with nothing appended, by reason: unauthorized (401), too_many_events and body_too_large (413), body_too_slow (408), invalid (400).",
		}, []string{"reason"}),
	}
	for _, r := range []string{refusedUnauthorized, refusedTooManyEvents, refusedTooLarge, refusedTooSlow, refusedInvalid} {
		m.refused.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.refused)
	}
	return m
}
