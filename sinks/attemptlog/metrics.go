package attemptlog

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	exported, spooled, replayed, dropped prometheus.Counter
	backlog                              prometheus.Gauge
	insertSeconds                        prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		exported: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamsync_attempts_exported_total", Help: "Attempt-log rows inserted into ClickHouse from Redis."}),
		spooled:  prometheus.NewCounter(prometheus.CounterOpts{Name: "streamsync_attempts_spooled_total", Help: "Rows moved from Redis to the spool file while ClickHouse was away."}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamsync_attempts_replayed_total", Help: "Rows inserted into ClickHouse from the spool file."}),
		dropped:  prometheus.NewCounter(prometheus.CounterOpts{Name: "streamsync_attempts_dropped_total", Help: "Rows lost: unreadable rows, or rows deleted from the attempts stream before they were exported. Stays 0."}),
		backlog:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "streamsync_attempts_backlog", Help: "Rows waiting in Redis for ClickHouse."}),
		insertSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "streamsync_attempts_insert_seconds", Help: "Duration of one batch insert.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
	}
	if reg != nil {
		reg.MustRegister(m.exported, m.spooled, m.replayed, m.dropped, m.backlog, m.insertSeconds)
	}
	return m
}
