package attemptlog

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type retentionMetrics struct {
	dropped     *prometheus.CounterVec
	failures    prometheus.Counter
	lastSuccess prometheus.Gauge
}

// newRetentionMetrics registers the retention's metrics (docs/operations.md,
// "Metrics"): what this process dropped, its failed passes, when its last
// pass ended well, and the retention configured.
func newRetentionMetrics(reg prometheus.Registerer, retention time.Duration) *retentionMetrics {
	m := &retentionMetrics{
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamsync_attempts_partitions_dropped_total",
			Help: "Days (partitions) of the attempt log older than clickhouse.retention dropped by this process, by table."}, []string{"table"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamsync_attempts_retention_failures_total",
			Help: "Retention passes that stopped on an error (ClickHouse or Redis); the next pass tries again."}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "streamsync_attempts_retention_last_success_timestamp_seconds",
			Help: "Unix time this process last ended a retention pass without error (0: not yet); one process at a time makes them, so take max() over the processes."}),
	}
	if reg != nil {
		reg.MustRegister(m.dropped, m.failures, m.lastSuccess,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "streamsync_attempts_retention_seconds",
				Help: "clickhouse.retention: days of the attempt log entirely older than this are dropped; 0 keeps every row."},
				func() float64 { return retention.Seconds() }))
	}
	return m
}
