package webhook

import "github.com/prometheus/client_golang/prometheus"

// Outcomes of streamsync_webhooks_total: a verified webhook applied, a
// replay of one applied before, a copy of one being applied (answered 503
// so that it comes again), one whose append failed (503).
const (
	outcomeApplied      = "applied"
	outcomeDuplicate    = "duplicate"
	outcomeInFlight     = "in_flight"
	outcomeAppendFailed = "append_failed"
)

type metrics struct {
	refused  *prometheus.CounterVec
	received *prometheus.CounterVec
	changes  *prometheus.CounterVec
}

// unknownPartner is the partner label of a webhook for a name not
// configured: names from the URL never become labels.
const unknownPartner = "-"

func newMetrics(reg prometheus.Registerer, partners []string) *metrics {
	m := &metrics{
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamsync_webhooks_refused_total",
			Help: "Webhooks from a partner refused, nothing applied, by partner (\"-\" for a name not configured) and reason: missing_signature, bad_timestamp, stale_timestamp, bad_signature (401), bad_webhook_id, unmapped (400), body_too_large (413), body_too_slow (408), unknown_partner (404).",
		}, []string{"partner", "reason"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamsync_webhooks_total",
			Help: "Verified webhooks from a partner by outcome: applied (200), duplicate (a webhook-id applied before, 200), in_flight (a copy of one being applied, 503), append_failed (503).",
		}, []string{"partner", "outcome"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamsync_webhook_changes_total",
			Help: "Changes that webhooks from a partner appended to its inbound stream.",
		}, []string{"partner"}),
	}
	m.refused.WithLabelValues(unknownPartner, ReasonUnknownPartner)
	for _, p := range partners {
		for _, r := range reasons {
			if r != ReasonUnknownPartner {
				m.refused.WithLabelValues(p, r)
			}
		}
		for _, o := range []string{outcomeApplied, outcomeDuplicate, outcomeInFlight, outcomeAppendFailed} {
			m.received.WithLabelValues(p, o)
		}
		m.changes.WithLabelValues(p)
	}
	if reg != nil {
		reg.MustRegister(m.refused, m.received, m.changes)
	}
	return m
}
