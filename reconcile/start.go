package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/httpserve"
)

// ErrRunning is Starter.Start's answer while a reconciliation (started by
// hand or scheduled, in any process) holds the lock.
var ErrRunning = errors.New("a reconciliation is running; try again when it has finished")

// StartConfig configures a Starter.
type StartConfig struct {
	// LockKey is layout.Keys.ReconcileLock, the lock scheduled runs take.
	LockKey string
	// LockTTL: as ScheduleConfig.LockTTL (DefaultLockTTL).
	LockTTL time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
}

func (c *StartConfig) setDefaults() {
	if c.LockTTL <= 0 {
		c.LockTTL = DefaultLockTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a missing lock key.
func (c StartConfig) Validate() error {
	if c.LockKey == "" {
		return errors.New("reconcile start: lock key required")
	}
	return nil
}

// Starter runs reconciliations on request (the admin API's
// POST /api/v1/reconcile/run) in the background, one at a time with the
// scheduled ones: it takes the same lock. Close stops a run in progress.
type Starter struct {
	cfg    StartConfig
	rdb    redis.UniversalClient
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewStarter builds a Starter; it does not close rdb.
func NewStarter(cfg StartConfig, rdb redis.UniversalClient) (*Starter, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Starter{cfg: cfg, rdb: rdb, ctx: ctx, cancel: cancel}, nil
}

// Start takes the lock and runs r in the background, calling done (when not
// nil) once the run has ended; it returns the run's id, the run_id the run
// is recorded under in reconcile_runs. It returns ErrRunning while another
// run holds the lock, and then calls nothing.
func (s *Starter) Start(r *Reconciler, done func()) (string, error) {
	token, ok, err := acquire(s.ctx, s.rdb, s.cfg.LockKey, s.cfg.LockTTL)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", ErrRunning
	}
	run := *r
	run.runID = NewRunID(s.cfg.Now())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if done != nil {
			defer done() // after the lock is released: a caller told "done" finds it free
		}
		defer release(s.ctx, s.rdb, s.cfg.LockKey, token)
		ctx, cancel := hold(s.ctx, s.rdb, s.cfg.LockKey, token, s.cfg.LockTTL, s.cfg.Logger)
		defer cancel()
		if _, err := run.Run(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("reconciliation started from the admin API", "run_id", run.runID, "err", err)
		}
	}()
	return run.runID, nil
}

// Close stops a run in progress and waits for it to end.
func (s *Starter) Close() {
	s.cancel()
	s.wg.Wait()
}

// StartRequest is the body of POST /api/v1/reconcile/run.
type StartRequest struct {
	Repair   bool     `json:"repair"`   // append repair events (needs a source)
	Entities []string `json:"entities"` // empty: every entity, as `streamsync reconcile`
}

// BuildFunc builds a Reconciler for one run and what to close after it; an
// error is a request the settings cannot serve (answered 400).
type BuildFunc func(Config) (*Reconciler, func(), error)

// StartHandler serves POST /api/v1/reconcile/run: 202 {"run_id": …} once a
// run is started in the background (it appears in GET
// /api/v1/reconcile/runs when it has finished), 409 while one is running,
// 400 for a body or a run the settings cannot do (--repair without a
// source), 413 for a body over 64 KiB and 408 for one that came too slowly
// (docs/security.md). build is nil when reconciliation is not configured
// (no ClickHouse): then every request gets 501.
func StartHandler(s *Starter, build BuildFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s == nil || build == nil {
			httpserve.WriteJSON(w, http.StatusNotImplemented, map[string]string{"error": "reconciliation not configured: clickhouse.addr is empty"})
			return
		}
		var req StartRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			msg := "body: want {\"repair\": bool, \"entities\": [string]}: " + err.Error()
			switch httpserve.BodyStatus(err) {
			case http.StatusRequestEntityTooLarge:
				msg = "body: larger than 64 KiB"
			case http.StatusRequestTimeout:
				msg = "body: came too slowly (docs/security.md)"
			}
			httpserve.WriteJSON(w, httpserve.BodyStatus(err), map[string]string{"error": msg})
			return
		}
		rc, cleanup, err := build(Config{Repair: req.Repair, Entities: req.Entities})
		if err != nil {
			httpserve.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		id, err := s.Start(rc, cleanup)
		switch {
		case errors.Is(err, ErrRunning):
			cleanup()
			httpserve.WriteJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
		case err != nil:
			cleanup()
			httpserve.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		default:
			httpserve.WriteJSON(w, http.StatusAccepted, map[string]any{"run_id": id, "repair": req.Repair, "entities": req.Entities})
		}
	})
}
