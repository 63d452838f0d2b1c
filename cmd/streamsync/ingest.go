package main

import (
	"context"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/ingest"
)

// ingestPart is the HTTP ingest, on when ingest.addr is set: producers'
// tokens from ingest.tokens (without any, loopback only), at most
// ingest.max_events events a request, the partner's name refused as an
// origin (docs/security.md, "Ingest").
type ingestPart struct {
	p     *runProcess
	in    *ingest.Server
	names []string
}

func newIngest(p *runProcess) (component, error) {
	cfg := p.cfg
	if cfg.Ingest.Addr == "" {
		return nil, nil
	}
	var producers []ingest.Producer
	var names []string
	for _, pr := range cfg.Ingest.Producers() {
		producers = append(producers, ingest.Producer{Name: pr.Name, Token: pr.Token})
		names = append(names, pr.Name)
	}
	// no partner's name may be claimed as an origin through the ingest
	// (docs/security.md), sink.partner_name's even when sink.* is not used
	partners := []string{cfg.Sink.PartnerName}
	partners = append(partners, cfg.PartnerNames()...)
	ic := ingest.Config{Addr: cfg.Ingest.Addr, MaxBodyBytes: int64(cfg.Ingest.MaxBodyBytes), MaxEvents: cfg.Ingest.MaxEvents,
		Replicas: replicasOf(cfg.Redis),
		Limits:   event.Limits{MaxBytes: cfg.Event.MaxBytes}, Producers: producers, PartnerNames: partners, Registerer: p.reg, Logger: p.log,
		PrepareTimeout: cfg.Ingest.PrepareTimeout, CheckURL: cfg.Ingest.CheckURL, CheckMaxAttempts: cfg.Ingest.CheckMaxAttempts,
		Instance: p.consumer, AttemptLog: p.attemptLog()}
	ic.UseShards(p.shards)
	ic.Webhooks = p.webhooks
	in, err := ingest.New(ic, p.rdb)
	if err != nil {
		return nil, err
	}
	return &ingestPart{p: p, in: in, names: names}, nil
}

func (i *ingestPart) Start(context.Context) error {
	if err := i.in.Start(); err != nil {
		return err
	}
	if len(i.names) == 0 {
		i.p.log.Warn("ingest: no ingest.tokens: open to every process on this host, loopback only (docs/security.md)", "addr", i.in.Addr())
	} else {
		i.p.log.Info("ingest: producers", "names", i.names)
	}
	return nil
}

// Stop lets accepted requests finish, for at most 10s.
func (i *ingestPart) Stop(ctx context.Context) error {
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = i.in.Close(c) // accepted requests finish
	return nil
}
