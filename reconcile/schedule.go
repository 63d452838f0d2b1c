package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// ScheduleConfig runs reconciliations inside `streamsync run` (contract §6:
// reconcile.every, reconcile.repair), one process at a time across
// instances.
type ScheduleConfig struct {
	Every time.Duration // reconcile.every; > 0
	// LockKey and LastKey are pipeline.Keys.ReconcileLock/ReconcileLast.
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

// Lock scripts. acquire: KEYS[1] lock, ARGV[1] token, ARGV[2] TTL ms →
// 1 when taken. renew/release only touch a lock still holding ARGV[1].
var (
	renewScript = redis.NewScript(`
-- KEYS[1]: lock; ARGV[1]: token; ARGV[2]: TTL ms. Returns 1 when renewed.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)
	releaseScript = redis.NewScript(`
-- KEYS[1]: lock; ARGV[1]: token. Returns 1 when released.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
)

// TryRun runs a reconciliation when one is due (none started within Every,
// by any process) and this process gets the lock; ran says whether it did.
func (s *Scheduler) TryRun(ctx context.Context) (ran bool, rep Report, err error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	ok, err := s.rdb.SetNX(ctx, s.cfg.LockKey, token, s.cfg.LockTTL).Result()
	if err != nil {
		return false, rep, fmt.Errorf("reconcile lock: %w", err)
	}
	if !ok {
		return false, rep, nil // another process is reconciling
	}
	defer func() { _ = releaseScript.Run(context.WithoutCancel(ctx), s.rdb, []string{s.cfg.LockKey}, token).Err() }()
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
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // renew the lock while the run goes on; stop the run if it is lost
		t := time.NewTicker(s.cfg.LockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			n, err := renewScript.Run(runCtx, s.rdb, []string{s.cfg.LockKey}, token, s.cfg.LockTTL.Milliseconds()).Int()
			if err == nil && n == 0 {
				s.log.Error("reconcile lock lost; stopping the run")
				cancel()
				return
			}
		}
	}()
	rep, err = s.r.Run(runCtx)
	s.m.observe(rep)
	return true, rep, err
}
