package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/streamsync/streamsync/backfill"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/source"
	"golang.org/x/term"
)

func backfillFlags(fs *pflag.FlagSet) {
	fs.StringArray("entity", nil, "entity to read; repeatable (default: source.entities, the file's, or the ledger's)")
	fs.StringArray("account", nil, "only this account's records; repeatable (default: every account)")
	fs.Float64("rate", backfill.DefaultRate, "records appended a second at most; 0 for no limit")
	fs.String("resume", "", "continue the interrupted run RUN_ID")
	fs.Bool("replay-dead", false, "at the end, replay the dead letters with reason parent_missing or exhausted that died since the run began")
	partnerFlag(fs)
}

// deadReplayers replay the dead letters of each of several partners
// (backfill.DeadReplayer), each back to its own partner.
type deadReplayers []inspect.DeadOps

func (rs deadReplayers) ReplayDead(ctx context.Context, reasons []string, since time.Time) (int, error) {
	n := 0
	for _, r := range rs {
		m, err := r.ReplayDead(ctx, reasons, since)
		n += m
		if err != nil {
			return n, fmt.Errorf("partner %s: %w", r.Partner, err)
		}
	}
	return n, nil
}

// runBackfill is `streamsync backfill` (docs/backfill.md).
func runBackfill(ctx context.Context, e *env) error {
	cfg := e.cfg
	entities, _ := e.fs.GetStringArray("entity")
	accounts, _ := e.fs.GetStringArray("account")
	perSecond, _ := e.fs.GetFloat64("rate")
	resume, _ := e.fs.GetString("resume")
	replay, _ := e.fs.GetBool("replay-dead")
	if perSecond < 0 {
		return fmt.Errorf("--rate: must be 0 (no limit) or more, is %g", perSecond)
	}
	if perSecond == 0 {
		perSecond = -1 // backfill.Config: negative is no limit
	}
	// --partner: the upserts are that partner's alone (_ss_for); without
	// it every partner reads them
	configured, _ := cliPlans(e)
	plans, err := selectedPlans(e)
	if err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	forPartner := ""
	if len(plans) == 1 {
		forPartner = plans[0].shards[0].Target // "" with one partner configured
	}
	var replayers deadReplayers
	for _, pl := range plans {
		replayers = append(replayers, inspect.DeadOps{Shards: pl.shards, Instance: "backfill", AttemptLog: cfg.ClickHouse.Addr != "",
			Partner: partnerLabel(configured, pl)})
	}
	rdb, err := connectRedis(ctx, cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	for i := range replayers {
		replayers[i].RDB = rdb
	}
	bad := source.NewBadLines(cfg.Source.File, e.log)
	c := cfg.Source
	sc, err := sourceConfig(c, e.log)
	if err != nil {
		return err
	}
	sc.OnBadLine = bad.Note
	src, err := source.New(sc)
	if err != nil {
		return err
	}
	defer src.Close()
	if src.Kind() == source.KindNone {
		return backfill.ErrNoSource // before "started": nothing was
	}
	shards := shardsOf(cfg)
	keys := shards[0]
	runID := resume
	if runID == "" {
		runID = backfill.NewRunID(time.Now())
	}
	fmt.Fprintf(os.Stderr, "backfill %s started\n", runID)
	var progress backfill.Progress
	if term.IsTerminal(int(os.Stderr.Fd())) {
		progress = backfill.NewBar(os.Stderr, runID)
	} else {
		progress = backfill.NewLines(os.Stderr, runID, 5*time.Second, nil)
	}
	b, err := backfill.New(backfill.Config{
		Stream: keys.Events, Route: shards.Stream, For: forPartner, StateKey: keys.Backfill, Entities: entities, Accounts: accounts, Rate: perSecond,
		Resume: resume, RunID: runID, ReplayDead: replay, Limits: event.Limits{MaxBytes: cfg.Event.MaxBytes},
		Progress: progress, Logger: e.log,
		LedgerEntities: func(ctx context.Context) ([]string, error) { return ledgerOf(rdb, plans[0].shards).Entities(ctx) },
		Replayer:       replayers,
	}, rdb, src)
	if err != nil {
		return err
	}
	sum, runErr := b.Run(ctx)
	sum.BadLines = bad.Count()
	if sum.BadLines > 0 {
		sum.Notes = append(sum.Notes, fmt.Sprintf("%d lines of %s are not records and were skipped (see the WARN lines)", sum.BadLines, c.File))
	}
	if e.format == "json" {
		if sum.Entities == nil {
			sum.Entities = []string{}
		}
		if sum.Notes == nil {
			sum.Notes = []string{}
		}
		if err := json.NewEncoder(e.out).Encode(sum); err != nil {
			return err
		}
	} else {
		state := "complete"
		if !sum.Complete {
			state = "interrupted: continue with --resume " + sum.RunID
		}
		fmt.Fprintf(e.out, "backfill %s %s\nentities: %s\nrecords read: %d\nappended: %d (run total %d)\nskipped: %d\nbad lines: %d\nrecords/s: %.0f\nduration: %s\n",
			sum.RunID, state, strings.Join(sum.Entities, ", "), sum.Records, sum.Appended, sum.RunAppended, sum.Skipped, sum.BadLines, sum.PerSecond,
			(time.Duration(sum.DurationMS) * time.Millisecond).String())
		for _, n := range sum.Notes {
			fmt.Fprintf(e.out, "note: %s\n", n)
		}
		if replay {
			fmt.Fprintf(e.out, "dead letters replayed: %d\n", sum.ReplayedDead)
		}
	}
	return runErr
}
