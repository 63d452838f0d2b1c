package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"
	"github.com/streamsync/streamsync/config"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/ingest"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/reconcile"
	"github.com/streamsync/streamsync/source"
)

func reconcileFlags(fs *pflag.FlagSet) {
	fs.StringArray("entity", nil, "compare this entity (repeatable); default: source.entities, the file's, or the ledger's")
	fs.StringArray("account", nil, "compare this account's records only (repeatable)")
	fs.String("against", "", "our side: source or ledger (default: source, or ledger when source.kind is none)")
	fs.Bool("repair", false, "append repair events for missing, behind and differs records (needs a source)")
	fs.Bool("repair-extra", false, "with --repair: also delete the partner's extra records")
	fs.Duration("recent", 0, "only records delivered in this past window (attempt log), by point reads")
	fs.Int("limit", reconcile.DefaultFirstDiffs, "differences listed in the output")
	fs.Bool("keep-items", false, "keep the run's rows in reconcile_items (for digging in by hand)")
}

// exitError ends the process with its code; differences found exit 1.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }
func (e *exitError) ExitCode() int { return e.code }

// runReconcile is `streamsync reconcile` (contract §6).
func runReconcile(ctx context.Context, e *env) error {
	cfg := e.cfg
	if cfg.ClickHouse.Addr == "" {
		return fmt.Errorf("clickhouse.addr: required for reconcile (both sides are compared in ClickHouse)")
	}
	rc, cleanup, err := newReconciler(e, reconcileConfigFromFlags(e))
	if err != nil {
		return err
	}
	defer cleanup()
	rep, err := rc.Run(ctx)
	if e.format == "json" {
		_ = rep.WriteJSON(e.out)
	} else {
		_ = rep.WriteTable(e.out)
	}
	if err != nil {
		return &exitError{code: 2, msg: "reconcile failed: " + err.Error()}
	}
	if rep.ExitCode() != 0 {
		return &exitError{code: rep.ExitCode(), msg: fmt.Sprintf("reconcile: %d differences found", rep.Found())}
	}
	return nil
}

func reconcileConfigFromFlags(e *env) reconcile.Config {
	entities, _ := e.fs.GetStringArray("entity")
	accounts, _ := e.fs.GetStringArray("account")
	against, _ := e.fs.GetString("against")
	repair, _ := e.fs.GetBool("repair")
	extra, _ := e.fs.GetBool("repair-extra")
	recent, _ := e.fs.GetDuration("recent")
	limit, _ := e.fs.GetInt("limit")
	keep, _ := e.fs.GetBool("keep-items")
	return reconcile.Config{Against: against, Entities: entities, Accounts: accounts, Repair: repair, RepairExtra: extra,
		Recent: recent, FirstDiffs: limit, KeepItems: keep}
}

// newReconciler wires a Reconciler from the settings: ClickHouse, Redis (the
// ledger and the events stream), our source and the partner's read API.
func newReconciler(e *env, rc reconcile.Config) (*reconcile.Reconciler, func(), error) {
	cfg := e.cfg
	rdb, err := newRedis(cfg.Redis)
	if err != nil {
		return nil, nil, err
	}
	ch := cfg.ClickHouse
	conn, err := openClickHouse(ch)
	if err != nil {
		_ = rdb.Close()
		return nil, nil, err
	}
	ours, err := newSource(cfg.Source, e)
	if err != nil {
		_ = rdb.Close()
		_ = conn.Close()
		return nil, nil, err
	}
	theirs, err := partnerReader(cfg.Sink, e.log)
	if err != nil {
		_ = rdb.Close()
		_ = conn.Close()
		return nil, nil, err
	}
	cleanup := func() {
		_ = theirs.Close()
		_ = ours.Close()
		_ = conn.Close()
		_ = rdb.Close()
	}
	shards := shardsOf(cfg)
	rc.Database = ch.Database
	rc.Logger = e.log
	deps := reconcile.Deps{CH: conn, Theirs: theirs, Ledger: ledgerOf(rdb, shards),
		Append: repairAppender(rdb, shards)}
	if ours.Kind() != source.KindNone {
		deps.Ours = ours
	}
	r, err := reconcile.New(rc, deps)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return r, cleanup, nil
}

// repairAppender appends reconciliation repairs through the ingest's append
// path, each with a repair proof (reconcile.SignRepairs).
func repairAppender(rdb redis.UniversalClient, shards layout.Shards) reconcile.AppendFunc {
	return reconcile.SignRepairs(rdb, shards[0].ProofKey, func(ctx context.Context, events []event.Event) error {
		return ingest.AppendRouted(ctx, rdb, shards.Stream, events)
	})
}

// ledgerOf reads the ledger of every shard.
func ledgerOf(rdb redis.UniversalClient, shards layout.Shards) reconcile.RedisLedger {
	l := reconcile.RedisLedger{RDB: rdb, Key: shards[0].Ledger}
	if len(shards) > 1 {
		for _, k := range shards {
			l.Shards = append(l.Shards, k.Ledger)
		}
	}
	return l
}

// newSource builds our source from source.*.
func newSource(c config.SourceConfig, e *env) (source.Source, error) {
	return openSource(c, e.log)
}

// withReconcileRuns adds GET /api/v1/reconcile/runs to the admin API when the
// attempt log's ClickHouse is there (runs is nil otherwise), and POST
// /api/v1/reconcile/run: start answers it, or it answers 501 without
// ClickHouse (start is nil).
func withReconcileRuns(api, runs, start http.Handler) http.Handler {
	mux := http.NewServeMux()
	if runs != nil {
		mux.Handle("GET /api/v1/reconcile/runs", runs)
	}
	if start == nil {
		start = reconcile.StartHandler(nil, nil)
	}
	mux.Handle("POST /api/v1/reconcile/run", start)
	mux.Handle("/", api)
	return mux
}

// reconcileStarter is the handler of POST /api/v1/reconcile/run: runs
// started from the console, wired like `streamsync reconcile` and sharing
// the scheduled runs' lock. stop ends a run in progress.
func reconcileStarter(e *env, keys layout.Keys) (h http.Handler, stop func(), err error) {
	rdb, err := newRedis(e.cfg.Redis)
	if err != nil {
		return nil, nil, err
	}
	s, err := reconcile.NewStarter(reconcile.StartConfig{LockKey: keys.ReconcileLock(), Logger: e.log}, rdb)
	if err != nil {
		_ = rdb.Close()
		return nil, nil, err
	}
	build := func(c reconcile.Config) (*reconcile.Reconciler, func(), error) { return newReconciler(e, c) }
	return reconcile.StartHandler(s, build), func() { s.Close(); _ = rdb.Close() }, nil
}

// startReconcile runs scheduled reconciliations (reconcile.every,
// reconcile.repair) beside the pipeline; the returned func stops them and
// waits for a run in progress to end.
func startReconcile(e *env, keys layout.Keys, reg prometheus.Registerer) (func(), error) {
	cfg := e.cfg
	r, cleanup, err := newReconciler(e, reconcile.Config{Repair: cfg.Reconcile.Repair})
	if err != nil {
		return nil, fmt.Errorf("reconcile.every: %w", err)
	}
	rdb, err := newRedis(cfg.Redis)
	if err != nil {
		cleanup()
		return nil, err
	}
	s, err := reconcile.NewScheduler(reconcile.ScheduleConfig{Every: cfg.Reconcile.Every, LockKey: keys.ReconcileLock(),
		LastKey: keys.ReconcileLast(), Logger: e.log, Registerer: reg}, rdb, r)
	if err != nil {
		cleanup()
		_ = rdb.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	e.log.Info("scheduled reconciliation on", "every", cfg.Reconcile.Every, "repair", cfg.Reconcile.Repair)
	return func() {
		cancel()
		<-done
		cleanup()
		_ = rdb.Close()
	}, nil
}
