package attemptlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// ExportersConfig configures the exporters of every shard (docs/scaling.md).
type ExportersConfig struct {
	// Streams are the shards' attempts streams, in shard order.
	Streams []string
	// Exporter is every exporter's configuration; Stream is set per shard.
	// With more than one shard, each also gets a RowIDPrefix of its own
	// ("3/"), a spool directory of its own (SpoolDir/shard-3) and a shard
	// label on its metrics.
	Exporter ExporterConfig
}

// Exporters runs the attempt-log exporter of every shard.
type Exporters struct {
	xs      []*Exporter
	streams []string
	log     *slog.Logger
}

// NewExporters builds one Exporter per shard; it does not close rdb or conn.
func NewExporters(cfg ExportersConfig, rdb redis.UniversalClient, conn driver.Conn) (*Exporters, error) {
	if len(cfg.Streams) == 0 {
		return nil, errors.New("attempt log exporters: streams required")
	}
	s := &Exporters{streams: cfg.Streams, log: cfg.Exporter.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for i, stream := range cfg.Streams {
		c := cfg.Exporter
		c.Stream = stream
		if len(cfg.Streams) > 1 {
			c.RowIDPrefix = fmt.Sprintf("%d/", i)
			c.SpoolDir = filepath.Join(cfg.Exporter.SpoolDir, fmt.Sprintf("shard-%d", i))
			if c.Registerer != nil {
				c.Registerer = prometheus.WrapRegistererWith(prometheus.Labels{"shard": strconv.Itoa(i)}, c.Registerer)
			}
		}
		x, err := NewExporter(c, rdb, conn)
		if err != nil {
			return nil, err
		}
		s.xs = append(s.xs, x)
	}
	return s, nil
}

// Run runs every shard's exporter until ctx ends; an exporter that stops
// with an error is logged, and the others go on.
func (s *Exporters) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i, x := range s.xs {
		wg.Go(func() {
			if err := x.Run(ctx); err != nil {
				s.log.Error("attempt-log exporter stopped", "stream", s.streams[i], "err", err)
			}
		})
	}
	wg.Wait()
}
