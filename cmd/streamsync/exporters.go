package main

import (
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// newExporters runs the attempt-log exporter of every shard beside the
// pipeline when clickhouse.addr is set; the pipeline never waits on them.
// The rows are sink.partner_name's, the partner of the single-partner
// settings, whose row_ids stay as they were (docs/operations.md).
func newExporters(p *runProcess) (component, error) {
	if p.ch == nil {
		return nil, nil
	}
	ch := p.cfg.ClickHouse
	partner := p.cfg.Sink.PartnerName
	streams := make([]attemptlog.Stream, len(p.shards))
	for i, k := range p.shards {
		streams[i] = attemptlog.Stream{Name: k.Attempts, Partner: partner, Shard: i}
	}
	xs, err := attemptlog.NewExporters(attemptlog.ExportersConfig{Streams: streams, DefaultPartner: partner, Exporter: attemptlog.ExporterConfig{Consumer: p.consumer,
		Database: ch.Database, BacklogMax: ch.BacklogMax, SpoolDir: ch.SpoolDir, Logger: p.log, Registerer: p.reg}}, p.rdb, p.ch)
	if err != nil {
		return nil, err
	}
	return &background{run: xs.Run}, nil
}
