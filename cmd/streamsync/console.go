package main

import (
	"context"
	"net/http"
	"time"

	"github.com/streamsync/streamsync/admin"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/reconcile"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// adminPart serves health, metrics, the admin JSON API and the console on
// admin.addr (docs/operations.md): dead letters, chains and reconciliation
// runs with the attempt log's ClickHouse, runs started from the console
// wired like `streamsync reconcile`.
type adminPart struct {
	srv     *admin.Server
	console *admin.Console
	starter *reconcile.Starter // runs started from the console; nil without ClickHouse
}

// newAdmin builds the admin server when admin.addr is set; /readyz asks
// the pipeline.
func newAdmin(p *runProcess) (component, error) {
	cfg := p.cfg
	if cfg.Admin.Addr == "" {
		return nil, nil
	}
	pops := newPartnerOps(p)
	ops := pops.first() // the console's counters and chart: the first partner's
	a := &adminPart{}
	var chains admin.ChainLister
	var starter *reconcile.Starter // nil without ClickHouse, as build
	var build reconcile.BuildFunc
	if p.ch != nil {
		chains = attemptlog.ChainSource{Conn: p.ch, Database: cfg.ClickHouse.Database}
		var err error
		if starter, build, err = reconcileStarter(p); err != nil {
			return nil, err
		}
		a.starter = starter
		p.onClose(a.close) // when it never started
	}
	var runs http.Handler // no runs to list without ClickHouse
	if p.ch != nil {
		runs = reconcile.RunsHandler(p.ch, cfg.ClickHouse.Database)
	}
	api, err := a.consoleAPI(p, ops, chains, admin.ReconcileRoutes(admin.NewAPI(pops, chains, p.log), runs, reconcile.StartHandler(starter, build)))
	if err != nil {
		return nil, err
	}
	if a.srv, err = admin.New(admin.Config{Addr: cfg.Admin.Addr, Token: cfg.Admin.Token, Hosts: cfg.Admin.Hosts,
		Partners: p.partnerNames()}, p.ready, p.reg, api, p.log); err != nil {
		return nil, err
	}
	return a, nil
}

// consoleAPI adds the console's endpoints (the live chart's series, chain
// timelines) to the admin API.
func (a *adminPart) consoleAPI(p *runProcess, ops *inspect.Inspector, chains admin.ChainLister, api http.Handler) (http.Handler, error) {
	var lag admin.ExportLagFunc
	tl, _ := chains.(admin.TimelineFinder)
	if tl != nil {
		attempts := p.shards[0].Attempts
		lag = func(ctx context.Context) (admin.ExportLag, error) {
			b, err := attemptlog.ReadBacklog(ctx, p.rdb, attempts, time.Now())
			return admin.ExportLag{BacklogRows: b.Rows, Seconds: b.Age.Seconds()}, err
		}
	}
	c, err := admin.NewConsole(admin.ConsoleConfig{Logger: p.log}, ops, tl, lag)
	if err != nil {
		return nil, err
	}
	a.console = c
	return c.Wrap(api), nil
}

// Start samples the console's counters until ctx ends and serves.
func (a *adminPart) Start(ctx context.Context) error {
	go a.console.Run(ctx)
	return a.srv.Start()
}

// Stop lets open requests finish for at most 5s, then ends a run started
// from the console.
func (a *adminPart) Stop(ctx context.Context) error {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = a.srv.Close(c)
	a.close()
	return nil
}

func (a *adminPart) close() {
	if a.starter != nil {
		a.starter.Close()
		a.starter = nil
	}
}
