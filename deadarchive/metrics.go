package deadarchive

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	archived, failures prometheus.Counter
}

// newMetrics registers the archive's metrics: the counters, whether it is
// on, and the oldest dead letter's age, read from Redis on scrape.
func newMetrics(reg prometheus.Registerer, oldest func(context.Context) (time.Duration, error), enabled bool) *metrics {
	m := &metrics{
		archived: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamsync_dead_archived_total",
			Help: "Dead letters older than dead.max_age archived to ClickHouse (<db>.dead_letters) and removed from the dead-letter stream by this process."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamsync_dead_archive_failures_total",
			Help: "Archive passes that stopped on an error (ClickHouse or Redis); nothing that was not archived was removed."}),
	}
	on := 0.0
	if enabled {
		on = 1
	}
	if reg != nil {
		reg.MustRegister(m.archived, m.failures,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "streamsync_dead_archive_enabled",
				Help: "1 when dead letters older than dead.max_age are archived to ClickHouse and trimmed; 0 without ClickHouse (clickhouse.addr empty): they stay in Redis."},
				func() float64 { return on }),
			&oldestCollector{oldest: oldest, desc: prometheus.NewDesc("streamsync_dead_oldest_age_seconds",
				"Age of the oldest entry of the dead-letter streams (from its entry id), 0 when they are empty; above dead.max_age for long, archiving is held up. Absent when Redis does not answer.", nil, nil)})
	}
	return m
}

// oldestCollector reads the oldest dead letter's age when /metrics is
// scraped: one XRANGE … COUNT 1 per shard, pipelined.
type oldestCollector struct {
	oldest func(context.Context) (time.Duration, error)
	desc   *prometheus.Desc
}

func (c *oldestCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *oldestCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	age, err := c.oldest(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, age.Seconds())
}
