package outbox

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	relayed  *prometheus.CounterVec
	lag      prometheus.Gauge
	failures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		relayed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamsync_outbox_relayed_total",
			Help: "Outbox rows relayed and deleted, by result: appended to the events stream, or dead-lettered invalid.",
		}, []string{"result"}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "streamsync_outbox_lag_seconds",
			Help: "Age of the oldest row still in the outbox table (the lowest id), 0 when it is empty.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "streamsync_outbox_failures_total",
			Help: "Relay passes that failed (PostgreSQL or Redis away); their rows are relayed by a later pass.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.relayed, m.lag, m.failures)
	}
	return m
}
