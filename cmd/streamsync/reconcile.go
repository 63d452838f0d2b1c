package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/ingest"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/partnerread"
	"github.com/streamsync/streamsync/profile"
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
	partnerFlag(fs)
}

// exitError ends the process with its code; differences found exit 1.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }
func (e *exitError) ExitCode() int { return e.code }

// runReconcile is `streamsync reconcile` (docs/reconcile.md).
func runReconcile(ctx context.Context, e *env) error {
	cfg := e.cfg
	if cfg.ClickHouse.Addr == "" {
		return fmt.Errorf("clickhouse.addr: required for reconcile (both sides are compared in ClickHouse)")
	}
	pl, err := cliPartner(e)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	rdb, err := newRedis(cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	conn, err := openClickHouse(cfg.ClickHouse, 0)
	if err != nil {
		return err
	}
	defer conn.Close()
	rc, cleanup, err := newReconciler(e, pl, rdb, conn, reconcileConfigFromFlags(e))
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

// newReconciler wires a Reconciler of one partner (pl: its sink settings
// and profile, its ledger and id map) from the settings over rdb (the
// ledger and the events stream) and conn (ClickHouse), which it does not
// close: our source and the partner's read API, which cleanup closes.
func newReconciler(e *env, pl partnerPlan, rdb redis.UniversalClient, conn driver.Conn, rc reconcile.Config) (*reconcile.Reconciler, func(), error) {
	cfg := e.cfg
	ours, err := openSource(cfg.Source, e.log)
	if err != nil {
		return nil, nil, err
	}
	shards := pl.shards
	theirs, err := partnerReader(pl.sink, e.log, layout.NewIDMapStore(rdb, shards).Get)
	if err != nil {
		_ = ours.Close()
		return nil, nil, err
	}
	if pr, ok := theirs.(*partnerread.Reader); ok {
		// compared as the profile says, on both sides (docs/partners.md, "Compared fields")
		rc.Hash, rc.NoVersions = pr.Hash, pr.Profile().Versions() == profile.VersionsNone
	}
	cleanup := func() {
		_ = theirs.Close()
		_ = ours.Close()
	}
	rc.Database = cfg.ClickHouse.Database
	rc.Logger = e.log.With("partner", pl.name)
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
// path, each with a repair proof (reconcile.SignRepairs) and, when shards
// are one of several partners' key sets, meant for that partner alone
// (their Target, _ss_for): the others do not get another partner's repairs.
func repairAppender(rdb redis.UniversalClient, shards layout.Shards) reconcile.AppendFunc {
	return reconcile.SignRepairs(rdb, shards[0].ProofKey, func(ctx context.Context, events []event.Event) error {
		return ingest.AppendRoutedFor(ctx, rdb, shards.Stream, events, shards[0].Target)
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

// reconcileStarter starts the runs asked for on the admin API's POST
// /api/v1/reconcile/run, wired like `streamsync reconcile` over the
// process' Redis and ClickHouse and sharing the scheduled runs' lock: the
// first partner's (reconcileStarterFor names one).
// Its Close ends a run in progress.
func reconcileStarter(p *runProcess) (*reconcile.Starter, reconcile.BuildFunc, error) {
	return reconcileStarterFor(p, p.partners[0].plan)
}

// reconcileStarterFor is reconcileStarter of one partner: its keys (lock,
// ledger, id map) and its sink settings.
func reconcileStarterFor(p *runProcess, pl partnerPlan) (*reconcile.Starter, reconcile.BuildFunc, error) {
	s, err := reconcile.NewStarter(reconcile.StartConfig{LockKey: pl.shards[0].ReconcileLock(), Logger: p.log.With("partner", pl.name)}, p.rdb)
	if err != nil {
		return nil, nil, err
	}
	build := func(c reconcile.Config) (*reconcile.Reconciler, func(), error) {
		return newReconciler(p.env, pl, p.rdb, p.ch, c)
	}
	return s, build, nil
}

// newReconcileSchedule runs scheduled reconciliations (reconcile.every,
// reconcile.repair) beside the pipeline when reconcile.every is set, one
// schedule per partner, each with its own lock; Stop waits for the runs in
// progress to end.
func newReconcileSchedule(p *runProcess) (component, error) {
	cfg := p.cfg
	if cfg.Reconcile.Every <= 0 {
		return nil, nil
	}
	var runs []*background
	for _, pr := range p.partners {
		if pr.direction != directionOut {
			continue // our system is reconciled against each partner, not against itself
		}
		r, cleanup, err := newReconciler(p.env, pr.plan, p.rdb, p.ch, reconcile.Config{Repair: cfg.Reconcile.Repair})
		if err != nil {
			return nil, fmt.Errorf("reconcile.every: %w", err)
		}
		p.onClose(cleanup)
		keys := pr.plan.shards[0]
		s, err := reconcile.NewScheduler(reconcile.ScheduleConfig{Every: cfg.Reconcile.Every, LockKey: keys.ReconcileLock(),
			LastKey: keys.ReconcileLast(), Logger: p.log.With("partner", pr.plan.name), Registerer: pr.reg}, p.rdb, r)
		if err != nil {
			return nil, err
		}
		runs = append(runs, &background{run: s.Run})
	}
	return funcs{
		start: func(ctx context.Context) error {
			for _, run := range runs {
				_ = run.Start(ctx)
			}
			p.log.Info("scheduled reconciliation on", "every", cfg.Reconcile.Every, "repair", cfg.Reconcile.Repair, "partners", len(runs))
			return nil
		},
		stop: func(ctx context.Context) error {
			var errs []error
			for _, run := range runs {
				errs = append(errs, run.Stop(ctx))
			}
			return errors.Join(errs...)
		},
	}, nil
}
