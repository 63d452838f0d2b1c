package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Defaults of ScheduleConfig.
const (
	DefaultLockTTL = time.Minute
)

// ScheduleConfig runs reconciliations inside `streamsync run` (docs/reconcile.md:
// reconcile.every, reconcile.repair), one process at a time across
// instances.
type ScheduleConfig struct {
	Every time.Duration // reconcile.every; > 0
	// LockKey and LastKey are layout.Keys.ReconcileLock/ReconcileLast.
	LockKey, LastKey string
	// LockTTL is how long the lock outlives a holder that stopped renewing
	// it (a crash); renewed every LockTTL/3 while a run goes on.
	LockTTL time.Duration
	// Poll is how often a process looks whether a run is due (Every/10,
	// between 1s and 30s).
	Poll       time.Duration
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

func (c *ScheduleConfig) setDefaults() {
	if c.LockTTL <= 0 {
		c.LockTTL = DefaultLockTTL
	}
	if c.Poll <= 0 {
		c.Poll = min(30*time.Second, max(time.Second, c.Every/10))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a schedule that cannot run.
func (c ScheduleConfig) Validate() error {
	switch {
	case c.Every <= 0:
		return errors.New("reconcile.every: must be more than 0 to schedule")
	case c.LockKey == "" || c.LastKey == "":
		return errors.New("reconcile schedule: lock and last-run keys required")
	}
	return nil
}

// Scheduler runs a Reconciler every cfg.Every, in one process at a time.
type Scheduler struct {
	cfg ScheduleConfig
	rdb redis.UniversalClient
	r   *Reconciler
	m   *metrics
	log *slog.Logger
}

// NewScheduler builds a Scheduler; it does not close rdb.
func NewScheduler(cfg ScheduleConfig, rdb redis.UniversalClient, r *Reconciler) (*Scheduler, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Scheduler{cfg: cfg, rdb: rdb, r: r, m: newMetrics(cfg.Registerer), log: cfg.Logger}, nil
}

// Run looks every Poll whether a run is due and does it, until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		if _, _, err := s.TryRun(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("scheduled reconciliation", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// TryRun runs a reconciliation when one is due (none started within Every,
// by any process) and this process gets the lock; ran says whether it did.
func (s *Scheduler) TryRun(ctx context.Context) (ran bool, rep Report, err error) {
	token, ok, err := acquire(ctx, s.rdb, s.cfg.LockKey, s.cfg.LockTTL)
	if err != nil {
		return false, rep, err
	}
	if !ok {
		return false, rep, nil // another process is reconciling
	}
	defer release(ctx, s.rdb, s.cfg.LockKey, token)
	now := s.cfg.Now()
	last, err := s.rdb.Get(ctx, s.cfg.LastKey).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, rep, fmt.Errorf("reconcile last run: %w", err)
	}
	if ms, perr := strconv.ParseInt(last, 10, 64); perr == nil && now.Sub(time.UnixMilli(ms)) < s.cfg.Every {
		return false, rep, nil // not due yet
	}
	if err := s.rdb.Set(ctx, s.cfg.LastKey, now.UnixMilli(), 0).Err(); err != nil {
		return false, rep, fmt.Errorf("reconcile last run: %w", err)
	}
	runCtx, cancel := hold(ctx, s.rdb, s.cfg.LockKey, token, s.cfg.LockTTL, s.log)
	defer cancel()
	rep, err = s.r.Run(runCtx)
	s.m.observe(rep)
	return true, rep, err
}
