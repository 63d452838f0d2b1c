package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/ingest"
	"github.com/streamsync/streamsync/internal/layout"
)

// startIngest runs the HTTP ingest when ingest.addr is set: producers'
// tokens from ingest.tokens (without any, loopback only), at most
// ingest.max_events events a request, the partner's name refused as an
// origin (docs/security.md, "Ingest"). The returned func stops it, letting
// accepted requests finish.
func startIngest(e *env, rdb redis.UniversalClient, shards layout.Shards, consumer string, reg prometheus.Registerer) (func(), error) {
	cfg := e.cfg
	if cfg.Ingest.Addr == "" {
		return func() {}, nil
	}
	keys := shards[0]
	var producers []ingest.Producer
	var names []string
	for _, p := range cfg.Ingest.Producers() {
		producers = append(producers, ingest.Producer{Name: p.Name, Token: p.Token})
		names = append(names, p.Name)
	}
	var partners []string
	if cfg.Sink.PartnerName != "" {
		partners = append(partners, cfg.Sink.PartnerName)
	}
	ic := ingest.Config{Addr: cfg.Ingest.Addr, Stream: keys.Events, MaxBodyBytes: int64(cfg.Ingest.MaxBodyBytes), MaxEvents: cfg.Ingest.MaxEvents,
		Limits: event.Limits{MaxBytes: cfg.Event.MaxBytes}, Producers: producers, PartnerNames: partners, Registerer: reg, Logger: e.log,
		Keys: keys, PrepareTimeout: cfg.Ingest.PrepareTimeout, CheckURL: cfg.Ingest.CheckURL, CheckMaxAttempts: cfg.Ingest.CheckMaxAttempts,
		Instance: consumer, AttemptLog: cfg.ClickHouse.Addr != ""}
	if len(shards) > 1 {
		// Events are routed to their account's shard; prepared events
		// keep to one shard's keys, so they are off with several shards.
		ic.Stream, ic.Route, ic.Keys = "", shards.Stream, layout.Keys{}
	}
	in, err := ingest.New(ic, rdb)
	if err != nil {
		return nil, err
	}
	if err := in.Start(); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		e.log.Warn("ingest: no ingest.tokens: open to every process on this host, loopback only (docs/security.md)", "addr", in.Addr())
	} else {
		e.log.Info("ingest: producers", "names", names)
	}
	return func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = in.Close(c) // accepted requests finish
	}, nil
}
