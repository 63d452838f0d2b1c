package main

import (
	"context"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/sinks/partner"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/apiclient"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/pipeline"
	"github.com/streamsync/streamsync/pipeline/ordered"
	"github.com/streamsync/streamsync/tracing"
)

// defaultGCPercent is the Go collector's GOGC for `streamsync run` when the
// environment sets none: the pipeline's live heap is small and its garbage
// per event large, so Go's default of 100 collects very often: 200 took
// about 10 % less CPU per event in the peer benchmark, and 400 no less than
// 200 for twice the memory (docs/operations.md).
const defaultGCPercent = 200

// runPipeline is `streamsync run`: the components below, built from the
// settings and started in that order, the pipeline last, once what it
// hands work to runs. When the process is told to stop, or the pipeline
// fails, they stop in reverse order: the pipeline first, so that the
// deliveries in flight finish while the rest still runs.
func runPipeline(ctx context.Context, e *env) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	// a profile that cannot be used stops start-up before anything
	// connects, naming its line (docs/partners.md, "Errors at start-up")
	plans := partnerPlans(e.cfg, shardsOf(e.cfg))
	for _, pl := range plans {
		if pl.sink.UsesProfile() {
			if _, err := loadProfile(pl.sink); err != nil {
				return err
			}
		}
	}
	p, err := openProcess(ctx, e)
	if err != nil {
		return err
	}
	defer p.close()
	tr, err := newTracing(p)
	if err != nil {
		return err
	}
	for _, pl := range plans {
		pr := &partnerRun{plan: pl, reg: p.reg}
		if len(plans) > 1 {
			// every metric names its partner (docs/operations.md, "Metrics")
			pr.reg = prometheus.WrapRegistererWith(prometheus.Labels{"partner": pl.name}, p.reg)
		}
		if pr.sink, err = newSink(e.cfg, pl.sink, e.log.With("partner", pl.name), tracing.New(tr.provider).Transport, pr.reg, layout.NewIDMapStore(p.rdb, pl.shards)); err != nil {
			return err
		}
		p.onClose(func() { _ = pr.sink.Close() })
		// lag, pending, delayed, retrying, dead, step counts: read from
		// Redis on scrape, summed over the shards.
		gauges, err := inspect.New(inspect.Options{RDB: p.rdb, Shards: pl.shards}).Gauges(0, e.log)
		if err != nil {
			return err
		}
		pr.reg.MustRegister(gauges)
		p.partners = append(p.partners, pr)
	}
	var runs []component
	for _, pr := range p.partners {
		run, err := newPipeline(p, pr, tr.provider)
		if err != nil {
			return err
		}
		runs = append(runs, run)
	}
	parts := []component{tr}
	for _, build := range []func(*runProcess) (component, error){
		newExporters, newAdmin, newIngest, newReconcileSchedule, newOutbox, newDeadArchive, newHousekeeping,
	} {
		c, err := build(p)
		if err != nil {
			return err
		}
		parts = append(parts, c)
	}
	var l lifecycle
	if err := l.start(ctx, append(parts, runs...)...); err != nil {
		return err
	}
	for _, pr := range p.partners {
		keys := pr.plan.shards[0]
		e.log.Info("streamsync running", "partner", pr.plan.name, "events", keys.Events, "shards", len(p.shards), "redis_cluster", e.cfg.Redis.IsCluster(),
			"group", keys.Group, "consumer", p.consumer, "base_url", apiclient.RedactURL(pr.plan.sink.BaseURL), "profile", pr.plan.sink.Profile,
			"attempt_log", p.attemptLog())
	}
	stopped := make(chan struct{}, len(runs))
	for _, r := range runs {
		go func() {
			<-r.(*pipelineRun).done
			stopped <- struct{}{}
		}()
	}
	select {
	case <-ctx.Done():
	case <-stopped: // one pipeline failed: the process stops, and says why
	}
	if err := l.stop(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	e.log.Info("streamsync stopped")
	return nil
}

// pipelineRun is the component that runs the pipeline: the reading of the
// events stream and the delivery of every event.
type pipelineRun struct {
	p      *pipeline.Pipeline
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// partnerRun is one partner's part of `streamsync run`: its sink and the
// pipeline that reads the events stream with its consumer group, and the
// registerer its metrics go to (labelled with the partner when there are
// several).
type partnerRun struct {
	plan     partnerPlan
	reg      prometheus.Registerer
	sink     *partner.Sink
	pipeline *pipeline.Pipeline
}

// newPipeline builds the pipeline of one partner from the settings:
// stream.*, event.*, retry.*, dependency.*, delivering to the partner's
// sink; op=sync events read source.*.
func newPipeline(p *runProcess, pr *partnerRun, tp *tracing.Provider) (*pipelineRun, error) {
	cfg := p.cfg
	src, err := openSource(cfg.Source, p.log)
	if err != nil {
		return nil, err
	}
	p.onClose(func() { _ = src.Close() })
	pl, err := pipeline.New(pipeline.Config{
		Shards: pr.plan.shards, Name: p.name, Instance: p.consumer,
		Subscriber:  ordered.Config{Batch: cfg.Stream.Batch, MaxInFlight: cfg.Stream.MaxInFlight},
		PartnerName: pr.plan.name, Route: pr.plan.route(),
		Limits:     event.Limits{MaxBytes: cfg.Event.MaxBytes},
		Retry:      handlers.RetryPolicy{Initial: cfg.Retry.Initial, Max: cfg.Retry.Max, MaxAttempts: cfg.Retry.MaxAttempts},
		MaxWait:    cfg.Dependency.MaxWait,
		LeaseTTL:   2 * pr.plan.sink.Timeout,
		AttemptLog: p.attemptLog(),
		Records:    recordReader(src),
		Tracing:    tp,
		Logger:     p.log.With("partner", pr.plan.name), Registerer: pr.reg,
	}, p.rdb, pr.sink)
	if err != nil {
		return nil, err
	}
	pr.pipeline = pl
	return &pipelineRun{p: pl, done: make(chan struct{})}, nil
}

// Start reads and delivers until ctx ends or Stop.
func (r *pipelineRun) Start(ctx context.Context) error {
	ctx, r.cancel = context.WithCancel(ctx)
	go func() {
		defer close(r.done)
		r.err = r.p.Run(ctx)
	}()
	return nil
}

// Stop stops reading, waits for the deliveries in flight, and returns the
// error the pipeline stopped with.
func (r *pipelineRun) Stop(context.Context) error {
	r.cancel()
	<-r.done
	if r.err != nil {
		return fmt.Errorf("pipeline: %w", r.err)
	}
	return nil
}

// tracingPart exports the spans of every event to otel.endpoint (none
// without it); Stop sends those still batched, as the process' close does
// when it was never started.
type tracingPart struct {
	provider *tracing.Provider
	once     sync.Once
}

func newTracing(p *runProcess) (*tracingPart, error) {
	tp, err := tracing.NewProvider(tracing.Config{Endpoint: p.cfg.Otel.Endpoint, Instance: p.consumer})
	if err != nil {
		return nil, err
	}
	t := &tracingPart{provider: tp}
	p.onClose(func() { _ = t.Stop(context.Background()) })
	return t, nil
}

func (t *tracingPart) Start(context.Context) error { return nil }

func (t *tracingPart) Stop(ctx context.Context) error {
	t.once.Do(func() {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = t.provider.Shutdown(c) // the spans still batched go out
	})
	return nil
}
