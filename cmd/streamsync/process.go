package main

import (
	"context"
	"fmt"
	"github.com/streamsync/streamsync/webhook"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/pipeline"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// runProcess is what the components of `streamsync run` share: the Redis
// client, the ClickHouse connection (nil without clickhouse.addr), the
// shards' keys, the consumer name the process took, the metrics registry,
// the partner sink and the pipeline. close releases them and what the
// components handed it (onClose), the last first.
type runProcess struct {
	*env
	rdb      redis.UniversalClient
	ch       driver.Conn
	shards   layout.Shards
	name     *pipeline.ConsumerName
	consumer string
	reg      *prometheus.Registry
	// partners: one for each partner delivered to (docs/partners.md,
	// "Several partners"), sink.*'s first.
	partners []*partnerRun
	// webhooks are the two-way partners' webhooks the ingest takes; zero
	// when none are configured.
	webhooks webhook.Config
	closers  []func()
}

// runClickHouseConns bounds the connections of the process' one ClickHouse
// client: attemptlog.DefaultMaxOpenConns for the exporters, the admin API
// and the dead-letter archive, and as many again for a reconciliation run
// (one at a time: scheduled and console runs take the same lock), which
// holds a connection per side while it loads them. An exporter that waits
// past the dial timeout for a connection counts ClickHouse as away.
const runClickHouseConns = 2 * attemptlog.DefaultMaxOpenConns

// openProcess connects to Redis (which must answer), registers the
// process' gauges and takes its consumer name.
func openProcess(ctx context.Context, e *env) (_ *runProcess, err error) {
	p := &runProcess{env: e, shards: shardsOf(e.cfg), reg: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if p.rdb, err = connectRedis(ctx, e.cfg.Redis); err != nil {
		return nil, err
	}
	p.onClose(func() { _ = p.rdb.Close() })
	p.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// A name the user set is refused when another running process has it; a
	// default one (the host name) becomes host-2, host-3, … by itself.
	p.name, err = pipeline.TakeConsumerName(ctx, p.rdb, p.shards, pipeline.NameConfig{Name: consumerName(e.cfg.Stream),
		Auto: e.cfg.Stream.Consumer == "", Logger: e.log})
	if err != nil {
		return nil, err
	}
	p.onClose(p.name.Release)
	p.consumer = p.name.Name()
	if ch := e.cfg.ClickHouse; ch.Addr != "" {
		if p.ch, err = openClickHouse(ch, runClickHouseConns); err != nil {
			return nil, err
		}
		p.onClose(func() { _ = p.ch.Close() })
	}
	return p, nil
}

// onClose has close call f.
func (p *runProcess) onClose(f func()) { p.closers = append(p.closers, f) }

// close releases what the process holds, the last taken first.
func (p *runProcess) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	p.closers = nil
}

// attemptLog says whether steps write attempt-log rows (clickhouse.addr).
func (p *runProcess) attemptLog() bool { return p.cfg.ClickHouse.Addr != "" }

// ready reports whether every partner's pipeline is ready (/readyz).
func (p *runProcess) ready(ctx context.Context) error {
	for _, pr := range p.partners {
		if err := pr.pipeline.Ready(ctx); err != nil {
			if len(p.partners) > 1 {
				return fmt.Errorf("partner %s: %w", pr.plan.name, err)
			}
			return err
		}
	}
	return nil
}

// allShards are the key sets of every partner's shards, in partner order.
func (p *runProcess) allShards() layout.Shards {
	var out layout.Shards
	for _, pr := range p.partners {
		out = append(out, pr.plan.shards...)
	}
	return out
}

// partnerNames are the names of the partners delivered to, each once.
func (p *runProcess) partnerNames() []string {
	var out []string
	for _, pr := range p.partners {
		if pr.direction == directionOut {
			out = append(out, pr.plan.name)
		}
	}
	return out
}
