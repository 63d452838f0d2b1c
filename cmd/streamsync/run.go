package main

import (
	"context"
	"fmt"
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
	if e.cfg.Sink.UsesProfile() {
		// a profile that cannot be used stops start-up before anything
		// connects, naming its line (docs/partners.md, "Errors at start-up")
		if _, err := loadProfile(e.cfg.Sink); err != nil {
			return err
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
	if p.sink, err = newSink(e.cfg, e.log, tracing.New(tr.provider).Transport, p.reg, layout.NewIDMapStore(p.rdb, p.shards)); err != nil {
		return err
	}
	p.onClose(func() { _ = p.sink.Close() })
	run, err := newPipeline(p, tr.provider)
	if err != nil {
		return err
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
	if err := l.start(ctx, append(parts, run)...); err != nil {
		return err
	}
	keys := p.shards[0]
	e.log.Info("streamsync running", "events", keys.Events, "shards", len(p.shards), "redis_cluster", e.cfg.Redis.IsCluster(), "group", keys.Group,
		"consumer", p.consumer, "partner", apiclient.RedactURL(e.cfg.Sink.BaseURL), "profile", e.cfg.Sink.Profile, "attempt_log", p.attemptLog())
	select {
	case <-ctx.Done():
	case <-run.done:
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

// newPipeline builds the pipeline of the settings: stream.*, event.*,
// retry.*, dependency.*, delivering to the process' sink; op=sync events
// read source.*.
func newPipeline(p *runProcess, tp *tracing.Provider) (*pipelineRun, error) {
	cfg := p.cfg
	src, err := openSource(cfg.Source, p.log)
	if err != nil {
		return nil, err
	}
	p.onClose(func() { _ = src.Close() })
	pl, err := pipeline.New(pipeline.Config{
		Shards: p.shards, Name: p.name, Instance: p.consumer,
		Subscriber:  ordered.Config{Batch: cfg.Stream.Batch, MaxInFlight: cfg.Stream.MaxInFlight},
		PartnerName: cfg.Sink.PartnerName,
		Limits:      event.Limits{MaxBytes: cfg.Event.MaxBytes},
		Retry:       handlers.RetryPolicy{Initial: cfg.Retry.Initial, Max: cfg.Retry.Max, MaxAttempts: cfg.Retry.MaxAttempts},
		MaxWait:     cfg.Dependency.MaxWait,
		LeaseTTL:    2 * cfg.Sink.Timeout,
		AttemptLog:  p.attemptLog(),
		Records:     recordReader(src),
		Tracing:     tp,
		Logger:      p.log, Registerer: p.reg,
	}, p.rdb, p.sink)
	if err != nil {
		return nil, err
	}
	p.pipeline = pl
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
