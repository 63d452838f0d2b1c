package main

import (
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// newExporters runs the attempt-log exporter of every shard beside the
// pipeline when clickhouse.addr is set; the pipeline never waits on them.
func newExporters(p *runProcess) (component, error) {
	if p.ch == nil {
		return nil, nil
	}
	ch := p.cfg.ClickHouse
	streams := make([]string, len(p.shards))
	for i, k := range p.shards {
		streams[i] = k.Attempts
	}
	xs, err := attemptlog.NewExporters(attemptlog.ExportersConfig{Streams: streams, Exporter: attemptlog.ExporterConfig{Consumer: p.consumer,
		Database: ch.Database, BacklogMax: ch.BacklogMax, SpoolDir: ch.SpoolDir, Logger: p.log, Registerer: p.reg}}, p.rdb, p.ch)
	if err != nil {
		return nil, err
	}
	return &background{run: xs.Run}, nil
}
