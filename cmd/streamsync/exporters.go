package main

import (
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// newExporters runs the attempt-log exporter of every shard beside the
// pipeline when clickhouse.addr is set; the pipeline never waits on them.
// Each partner's (and direction's) attempts streams are exported with its
// name; the rows of sink.partner_name, the partner of the single-partner
// settings, keep the row_ids they had (docs/operations.md).
func newExporters(p *runProcess) (component, error) {
	if p.ch == nil {
		return nil, nil
	}
	ch := p.cfg.ClickHouse
	partner := p.cfg.Sink.PartnerName
	var streams []attemptlog.Stream
	for _, pr := range p.partners {
		dir := attemptlog.DirectionOut
		if pr.direction == directionIn {
			dir = attemptlog.DirectionIn
		}
		for i, k := range pr.plan.shards {
			streams = append(streams, attemptlog.Stream{Name: k.Attempts, Partner: pr.plan.name, Shard: i, Direction: dir})
		}
	}
	cl, err := clickHouseCluster(ch)
	if err != nil {
		return nil, err
	}
	xs, err := attemptlog.NewExporters(attemptlog.ExportersConfig{Streams: streams, DefaultPartner: partner, Exporter: attemptlog.ExporterConfig{Consumer: p.consumer,
		Database: ch.Database, BacklogMax: ch.BacklogMax, SpoolDir: ch.SpoolDir, Cluster: cl, Logger: p.log, Registerer: p.reg}}, p.rdb, p.ch)
	if err != nil {
		return nil, err
	}
	return &background{run: xs.Run}, nil
}
