package attemptlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Stream is one attempts stream an exporter reads.
type Stream struct {
	Name string // the stream's key
	// Partner is the partner whose pipeline appends to it
	// ([a-z0-9_-]{1,64}; ExportersConfig.DefaultPartner when empty).
	Partner string
	Shard   int // its shard's number, 0 to shards-1
	// Direction is DirectionIn for a two-way partner's inbound stream;
	// DirectionOut when empty.
	Direction string
}

// ExportersConfig configures the exporters of every partner and shard
// (docs/scaling.md, docs/partners.md).
type ExportersConfig struct {
	// Streams are the attempts streams: one per shard of each partner.
	Streams []Stream
	// DefaultPartner is the partner of the single-partner settings
	// (sink.partner_name; DefaultPartner when empty): its rows keep the
	// row_ids they had before there were several partners, so an upgrade
	// exports no row twice under a new id, and an older table's rows read
	// as its (SchemaOptions).
	DefaultPartner string
	// Exporter is every exporter's configuration; Stream, Partner and
	// OldRowsPartner are set per stream. With more than one shard each
	// exporter also gets a RowIDPrefix of its own ("3/"), a spool directory
	// of its own (SpoolDir/shard-3) and a shard label on its metrics; a
	// partner other than the default adds its name to both ("erp:3/",
	// SpoolDir/partner-erp/shard-3); with more than one partner every
	// exporter's metrics get a partner label.
	Exporter ExporterConfig
}

// Exporters runs the attempt-log exporter of every partner and shard.
type Exporters struct {
	xs      []*Exporter
	streams []Stream
	log     *slog.Logger
}

// NewExporters builds one Exporter per stream; it does not close rdb or
// conn. Two streams with the same name, or a partner that is not a
// partner name, are an error.
func NewExporters(cfg ExportersConfig, rdb redis.UniversalClient, conn driver.Conn) (*Exporters, error) {
	if len(cfg.Streams) == 0 {
		return nil, errors.New("attempt log exporters: streams required")
	}
	if cfg.DefaultPartner == "" {
		cfg.DefaultPartner = DefaultPartner
	}
	cfg.Streams = slices.Clone(cfg.Streams)
	shards, partners, names := 0, map[string]bool{}, map[string]bool{}
	for i, st := range cfg.Streams {
		if st.Partner == "" {
			cfg.Streams[i].Partner = cfg.DefaultPartner
		}
		if names[st.Name] {
			return nil, fmt.Errorf("attempt log exporters: stream %s named twice", st.Name)
		}
		names[st.Name] = true
		partners[cfg.Streams[i].Partner] = true
		shards = max(shards, st.Shard+1)
	}
	s := &Exporters{streams: cfg.Streams, log: cfg.Exporter.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, st := range cfg.Streams {
		c := cfg.Exporter
		c.Stream, c.Partner, c.OldRowsPartner, c.Direction = st.Name, st.Partner, cfg.DefaultPartner, st.Direction
		c.RowIDPrefix = ""
		labels := prometheus.Labels{}
		if st.Partner != cfg.DefaultPartner {
			// ':' is in no stream entry id and no shard prefix: these
			// row_ids can meet no other partner's.
			c.RowIDPrefix = st.Partner + ":"
			c.SpoolDir = filepath.Join(c.SpoolDir, "partner-"+st.Partner)
		}
		if st.Direction == DirectionIn {
			c.RowIDPrefix += "in:"
			c.SpoolDir = filepath.Join(c.SpoolDir, "in")
			labels["direction"] = DirectionIn
		} else if directions(cfg.Streams) > 1 {
			labels["direction"] = DirectionOut
		}
		if shards > 1 {
			c.RowIDPrefix += fmt.Sprintf("%d/", st.Shard)
			c.SpoolDir = filepath.Join(c.SpoolDir, fmt.Sprintf("shard-%d", st.Shard))
			labels["shard"] = strconv.Itoa(st.Shard)
		}
		if len(partners) > 1 {
			labels["partner"] = st.Partner
		}
		if c.Registerer != nil && len(labels) > 0 {
			c.Registerer = prometheus.WrapRegistererWith(labels, c.Registerer)
		}
		x, err := NewExporter(c, rdb, conn)
		if err != nil {
			return nil, fmt.Errorf("attempt log exporter of %s: %w", st.Name, err)
		}
		s.xs = append(s.xs, x)
	}
	return s, nil
}

// Run runs every stream's exporter until ctx ends; an exporter that stops
// with an error is logged, and the others go on.
func (s *Exporters) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i, x := range s.xs {
		wg.Go(func() {
			if err := x.Run(ctx); err != nil {
				s.log.Error("attempt-log exporter stopped", "stream", s.streams[i].Name, "partner", s.streams[i].Partner, "err", err)
			}
		})
	}
	wg.Wait()
}

// directions is how many directions streams have: 2 when a two-way
// partner's inbound stream is among them.
func directions(streams []Stream) int {
	for _, st := range streams {
		if st.Direction == DirectionIn {
			return 2
		}
	}
	return 1
}
