package main

import (
	"context"
	"fmt"
	"github.com/streamsync/streamsync/inspect"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/pipeline"
)

// newHousekeeping is what runs beside the pipeline until the process is
// told to stop: the summary line, the trimming of acked entries older than
// stream.keep_acked from every events stream (and of any entry past
// stream.max_len_hard), the deletion of idle consumers with nothing
// pending, the WARN about consumer groups no configured partner reads,
// and the report of the partner's state (breaker, credentials) that
// `streamsync status` shows.
func newHousekeeping(p *runProcess) (component, error) {
	var trimmers []*pipeline.Trimmer
	known := knownGroups(partnerPlans(p.cfg, p.shards))
	tm := pipeline.NewTrimMetrics(p.reg)
	for _, k := range p.shards {
		t, err := pipeline.NewTrimmer(pipeline.TrimConfig{Stream: k.Events, KeepAcked: p.cfg.Stream.KeepAcked, Keep: []string{p.consumer},
			MaxLen: p.cfg.Stream.MaxLenHard, Known: known, Metrics: tm, Logger: p.log}, p.rdb)
		if err != nil {
			return nil, err
		}
		trimmers = append(trimmers, t)
	}
	return &background{untilSignal: true, run: func(ctx context.Context) {
		var wg sync.WaitGroup
		for _, pr := range p.partners {
			log := p.log
			if len(p.partners) > 1 {
				// several pipelines: each line says whose, and which way
				// (docs/partners.md, "make run: several partners and two-way sync")
				log = log.With("partner", pr.plan.name, "direction", pr.direction)
			}
			wg.Go(func() { summarize(ctx, log, p.rdb, pr.plan.shards) })
			reporter := pipeline.PartnerReporter{RDB: p.rdb, Keys: pr.plan.shards[0], Instance: p.consumer, Sink: pr.sink, Logger: log}
			wg.Go(func() { reporter.Run(ctx) })
		}
		for _, t := range trimmers {
			wg.Go(func() { t.Run(ctx) })
		}
		wg.Go(func() {
			warnStrayGroups(ctx, p.log, p.rdb, p.shards, p.cfg.Stream.Group, known, p.cfg.Stream.MaxLenHard, strayWarnEvery)
		})
		wg.Wait()
	}}, nil
}

// summarize logs one line of counters every few seconds while anything moves.
func summarize(ctx context.Context, log *slog.Logger, rdb redis.UniversalClient, shards layout.Shards) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	var last inspect.Status
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s, err := inspect.ReadShardsStatus(ctx, rdb, shards)
		if err != nil {
			continue
		}
		s.Partner = nil // logged by the sink when it changes
		if fmt.Sprint(s) == fmt.Sprint(last) {
			continue
		}
		last = s
		// Counts since the step counters began (_total) beside what waits right now (_now);
		// skipped_loop_total (echoes) and skipped_conflict_total (changes that lost a conflict) are among skipped_total.
		log.Info("summary", "delivered_total", s.Steps["delivered"],
			"skipped_total", s.Steps["skipped_stale"]+s.Steps["skipped_unchanged"]+s.Steps["skipped_loop"]+s.Steps["skipped_conflict"],
			"skipped_loop_total", s.Steps["skipped_loop"], "skipped_conflict_total", s.Steps["skipped_conflict"],
			"parked_total", s.Steps["parked"], "retries_total", s.Steps["retry_scheduled"], "replayed_total", s.Steps["replayed"],
			"dead_now", s.Dead, "lag_now", s.Lag, "pending_now", s.Pending, "delayed_now", s.Delayed, "retrying_now", s.Retrying)
	}
}
