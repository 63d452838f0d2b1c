package reconcile

import "github.com/prometheus/client_golang/prometheus"

// metrics of docs/reconcile.md.
type metrics struct {
	differences *prometheus.GaugeVec
	lastSuccess prometheus.Gauge
	runs        *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		differences: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "streamsync_reconcile_differences",
			Help: "Differences the last finished scheduled reconciliation found, by class."}, []string{"class"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "streamsync_reconcile_last_success_timestamp_seconds",
			Help: "When the last scheduled reconciliation that could be done finished (unix seconds)."}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamsync_reconcile_runs_total",
			Help: "Scheduled reconciliations this process ran, by status (equal, differences, failed)."}, []string{"status"}),
	}
	if reg != nil {
		reg.MustRegister(m.differences, m.lastSuccess, m.runs)
	}
	return m
}

func (m *metrics) observe(rep Report) {
	m.runs.WithLabelValues(rep.Status).Inc()
	if rep.Status == StatusFailed {
		return
	}
	for _, c := range DiffClasses {
		m.differences.WithLabelValues(c).Set(float64(rep.ByClass(c)))
	}
	m.lastSuccess.Set(float64(rep.Finished.UnixMilli()) / 1000)
}
