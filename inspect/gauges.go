package inspect

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
)

var errMissingKeys = errors.New("gauges: stream and group required")

// GaugesConfig configures the Redis-derived metrics.
type GaugesConfig struct {
	// Keys are the key names of a single shard; ignored when Shards is set.
	Keys layout.Keys
	// Shards are the key sets of every shard (docs/scaling.md): the gauges
	// report their sums, as `streamsync status` does. Empty means Keys alone.
	Shards layout.Shards
	// Timeout bounds the Redis reads of one scrape (2s).
	Timeout time.Duration
	// Prepared counts the prepared events (docs/producers.md) not yet confirmed
	// or cancelled; nil reports the count `streamsync status` shows (the
	// prepared_due ZSETs of every shard).
	Prepared func(ctx context.Context) (int64, error)
	Logger   *slog.Logger
}

func (c *GaugesConfig) setDefaults() {
	if len(c.Shards) == 0 {
		c.Shards = layout.Shards{c.Keys}
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a missing stream or group name (in any shard).
func (c GaugesConfig) Validate() error {
	shards := c.Shards
	if len(shards) == 0 {
		shards = layout.Shards{c.Keys}
	}
	for _, k := range shards {
		if k.Events == "" || k.Group == "" {
			return errMissingKeys
		}
	}
	return nil
}

// Gauges is a prometheus.Collector that reads the pipeline's state from
// Redis when /metrics is scraped — one pipelined round trip a scrape, never
// per event: what `streamsync status` shows (docs/operations.md), as gauges, and the
// step counts as streamsync_steps_total. (The attempt-log backlog is the
// exporter's streamsync_attempts_backlog.)
//
// The values are the stream's, not this process': every process of a
// consumer group reports the same numbers, so aggregate them with max(), not
// sum(). With several shards each value is the sum over the shards (one
// pipelined round trip for all of them, ReadShardsStatus), except
// streamsync_consumers, the largest group of any shard: the numbers
// `streamsync status` prints.
type Gauges struct {
	cfg GaugesConfig
	rdb redis.UniversalClient

	up, length, lag, pending, delayed, retrying, dead, consumers, prepared, steps *prometheus.Desc
}

// NewGauges builds the collector; register it on the admin server's registry.
func NewGauges(cfg GaugesConfig, rdb redis.UniversalClient) (*Gauges, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &Gauges{cfg: cfg, rdb: rdb,
		up:        d("streamsync_redis_up", "1 when the last scrape read the pipeline's state from Redis, 0 when Redis did not answer (the other streamsync_* gauges are then absent)."),
		length:    d("streamsync_stream_length", "Entries in the events stream (XLEN), acked history included until it is trimmed."),
		lag:       d("streamsync_lag", "Entries of the events stream the consumer group has not read yet."),
		pending:   d("streamsync_pending", "Entries the consumer group has read but not acked yet (in flight)."),
		delayed:   d("streamsync_delayed", "Events parked in the delayed ZSET, waiting for their parent."),
		retrying:  d("streamsync_retrying", "Events waiting in the retry ZSET for their next attempt."),
		dead:      d("streamsync_dead", "Entries in the dead-letter stream (waiting to be replayed or dropped)."),
		consumers: d("streamsync_consumers", "Consumers in the consumer group."),
		prepared:  d("streamsync_prepared", "Prepared events not yet confirmed or cancelled (docs/producers.md); 0 while there are none."),
		steps:     d("streamsync_steps_total", "Steps recorded by every process of the stream, by step: the counts `streamsync status` shows.", "step"),
	}, nil
}

// Describe sends every metric's description.
func (g *Gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{g.up, g.length, g.lag, g.pending, g.delayed, g.retrying, g.dead, g.consumers, g.prepared, g.steps} {
		ch <- d
	}
}

// Collect reads every shard in one pipelined round trip and sends the sums.
func (g *Gauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.Timeout)
	defer cancel()
	s, err := ReadShardsStatus(ctx, g.rdb, g.cfg.Shards)
	if err != nil {
		g.cfg.Logger.Debug("metrics: reading the pipeline's state failed", "err", err)
		ch <- prometheus.MustNewConstMetric(g.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(g.up, prometheus.GaugeValue, 1)
	for _, v := range []struct {
		d *prometheus.Desc
		n int64
	}{{g.length, s.StreamLength}, {g.lag, s.Lag}, {g.pending, s.Pending}, {g.delayed, s.Delayed}, {g.retrying, s.Retrying},
		{g.dead, s.Dead}, {g.consumers, s.Consumers}} {
		ch <- prometheus.MustNewConstMetric(v.d, prometheus.GaugeValue, float64(v.n))
	}
	prepared := s.Prepared
	if g.cfg.Prepared != nil {
		if prepared, err = g.cfg.Prepared(ctx); err != nil {
			g.cfg.Logger.Debug("metrics: counting prepared events failed", "err", err)
		}
	}
	if err == nil {
		ch <- prometheus.MustNewConstMetric(g.prepared, prometheus.GaugeValue, float64(prepared))
	}
	for step, n := range s.Steps {
		ch <- prometheus.MustNewConstMetric(g.steps, prometheus.CounterValue, float64(n), step)
	}
}
