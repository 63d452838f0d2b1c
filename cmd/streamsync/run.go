package main

import (
	"cmp"
	"context"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamsync/streamsync/config"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/apiclient"
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
		if pl.conf.TwoWay() && e.cfg.Ours.UsesProfile() {
			if _, err := loadProfile(oursSettings(e.cfg)); err != nil {
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
	// a consumer group of no configured partner holds back trimming
	// (docs/operations.md, "Removing a partner")
	p.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "streamsync_stream_groups_unconfigured",
		Help: "Consumer groups on the events stream that belong to no configured partner; they hold back trimming."},
		strayGroupsCounter(e.cfg, p.rdb, 2*time.Second)))
	tw, err := newTwoWays(p, plans)
	if err != nil {
		return err
	}
	if tw == nil && (e.cfg.Ours.BaseURL != "" || e.cfg.Ours.UsesProfile()) {
		e.log.Warn("ours.* is set, but no partner is two-way (partners.<name>.webhooks or .poll): nothing is written to our system (docs/partners.md, \"Two-way sync\")")
	}
	if err := buildPartnerRuns(p, plans, tw, tr.provider); err != nil {
		return err
	}
	if tw != nil {
		if p.webhooks, err = tw.webhooks(p, plans); err != nil {
			return err
		}
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
	if tw != nil {
		pollers, err := tw.pollers(p, plans)
		if err != nil {
			return err
		}
		parts = append(parts, pollers...)
	}
	for _, build := range []func(*runProcess) (component, error){
		newExporters, newAdmin, newIngest, newReconcileSchedule, newOutbox, newDeadArchive, newHousekeeping, newRetention, newSealer,
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
	var sentinel []any // the Sentinel's master, by name and where the sentinels place it now
	if e.cfg.Redis.IsSentinel() {
		sentinel = []any{"redis_sentinel_master", e.cfg.Redis.SentinelMaster, "redis_master", sentinelMasterAddr(ctx, p.rdb, e.cfg.Redis)}
	}
	for _, pr := range p.partners {
		keys := pr.plan.shards[0]
		attrs := append([]any{"partner", pr.plan.name, "events", keys.Events, "shards", len(p.shards), "redis_cluster", e.cfg.Redis.IsCluster()}, sentinel...)
		attrs = append(attrs, "group", keys.Group, "consumer", p.consumer, "base_url", apiclient.RedactURL(pr.plan.sink.BaseURL), "profile", pr.plan.sink.Profile,
			"attempt_log", p.attemptLog())
		e.log.Info("streamsync running", attrs...)
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

// newPipeline builds the pipeline of one partner from the settings:
// stream.*, event.*, retry.*, dependency.*, delivering to the partner's
// sink; op=sync events read source.*.
func newPipeline(p *runProcess, pr *partnerRun, tp *tracing.Provider) (*pipelineRun, error) {
	cfg := p.cfg
	// the inbound pipeline reads a stream of its own partner's changes:
	// no route, no op=sync, and what comes back from our side is "ours"
	loopName, route, records := pr.plan.name, pr.plan.route(), handlers.RecordReader(nil)
	if pr.direction == directionIn {
		loopName, route = config.OursName, nil
	}
	var sender handlers.Sender = pr.sink
	if pr.twoway != nil {
		sender = pr.twoway.Sender(pr.sink)
	}
	src, err := openSource(cfg.Source, p.log)
	if err != nil {
		return nil, err
	}
	p.onClose(func() { _ = src.Close() })
	if pr.direction == directionOut {
		records = recordReader(src)
	}
	pl, err := pipeline.New(pipeline.Config{
		Shards: pr.plan.shards, Name: p.name, Instance: p.consumer,
		Subscriber:  ordered.Config{Batch: cfg.Stream.Batch, MaxInFlight: cmp.Or(pr.plan.conf.MaxInFlight, cfg.Stream.MaxInFlight)},
		PartnerName: loopName, Route: route, TwoWay: twoWayStep(pr),
		Limits:     event.Limits{MaxBytes: cfg.Event.MaxBytes},
		Retry:      handlers.RetryPolicy{Initial: cfg.Retry.Initial, Max: cfg.Retry.Max, MaxAttempts: cfg.Retry.MaxAttempts},
		MaxWait:    cfg.Dependency.MaxWait,
		LeaseTTL:   2 * pr.plan.sink.Timeout,
		AttemptLog: p.attemptLog(),
		Records:    records,
		Tracing:    tp,
		Logger:     p.log.With("partner", pr.plan.name), Registerer: pr.reg,
	}, p.rdb, sender)
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
