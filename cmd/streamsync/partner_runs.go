package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/replicas"
	"github.com/streamsync/streamsync/pipeline"
	"github.com/streamsync/streamsync/sinks/partner"
	"github.com/streamsync/streamsync/tracing"
	"github.com/streamsync/streamsync/twoway"
)

// partnerRun is one partner's part of `streamsync run`: its sink and the
// pipeline that reads the events stream with its consumer group, and the
// registerer its metrics go to (labelled with the partner when there are
// several).
type partnerRun struct {
	plan      partnerPlan
	direction string // directionOut: to the partner; directionIn: its changes to our system
	reg       prometheus.Registerer
	sink      *partner.Sink
	pipeline  *pipeline.Pipeline
	twoway    *twoway.Pair // a two-way partner's: echoes and conflicts; nil otherwise
}

// The directions of a partner's pipelines.
const (
	directionOut = "out"
	directionIn  = "in"
)

// buildPartnerRuns builds, into p.partners, the sink of every partner's
// pipeline — and for a two-way partner the one that brings its changes to
// our system — with their two-way pairs, gauges and metrics' labels.
func buildPartnerRuns(p *runProcess, plans []partnerPlan, tw *twoWays, tp *tracing.Provider) (err error) {
	// every partner's pipeline, and for a two-way partner the one that
	// brings its changes to our system (docs/partners.md, "Two-way sync")
	var all []*partnerRun
	for _, pl := range plans {
		all = append(all, &partnerRun{plan: pl, direction: directionOut})
		if tw != nil && pl.conf.TwoWay() {
			in := pl
			in.sink, in.shards, in.legacy = oursSettings(p.cfg), pl.shards.Inbound(), false
			all = append(all, &partnerRun{plan: in, direction: directionIn})
		}
	}
	for _, pr := range all {
		pl := pr.plan
		pr.reg = p.reg
		if len(all) > 1 {
			// every metric names its partner and direction (docs/operations.md, "Metrics")
			pr.reg = prometheus.WrapRegistererWith(prometheus.Labels{"partner": pl.name, "direction": pr.direction}, p.reg)
		}
		log := p.log.With("partner", pl.name)
		if pr.direction == directionIn {
			log = log.With("direction", directionIn)
		}
		if pr.sink, err = newSink(p.cfg, pl.sink, log, tracing.New(tp).Transport, pr.reg, layout.NewIDMapStore(p.rdb, pl.shards).WithReplicas(replicas.Wait(replicasOf(p.cfg.Redis)))); err != nil {
			return err
		}
		p.onClose(func() { _ = pr.sink.Close() })
		if tw != nil && pl.conf.TwoWay() {
			// before a write, the side written to is read: conflicts
			target, err := profileReader(p, pl.sink, pl.shards)
			if err != nil {
				return err
			}
			p.onClose(func() { _ = target.Close() })
			// both directions' key sets name the same agreements (layout.Keys.Inbound)
			from := twoway.Ours
			if pr.direction == directionIn {
				from = twoway.Theirs
			}
			if pr.twoway, err = tw.pair(p, pl, from, target); err != nil {
				return err
			}
		}
		// lag, pending, delayed, retrying, dead, step counts: read from
		// Redis on scrape, summed over the shards.
		gauges, err := inspect.New(inspect.Options{RDB: p.rdb, Shards: pl.shards}).Gauges(0, p.log)
		if err != nil {
			return err
		}
		pr.reg.MustRegister(gauges)
		p.partners = append(p.partners, pr)
	}
	return nil
}

// twoWayStep is the two-way step of pr's pipeline; nil for a one-way partner.
func twoWayStep(pr *partnerRun) handlers.StepFunc {
	if pr.twoway == nil {
		return nil
	}
	return pr.twoway.Step()
}
