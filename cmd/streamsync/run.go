package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/streamsync/streamsync/admin"
)

func runPipeline(ctx context.Context, e *env) error {
	rdb := newRedis(e.cfg.Redis)
	defer rdb.Close()
	if err := pingRedis(ctx, rdb, e.cfg.Redis); err != nil {
		return err
	}
	keys := keysOf(e.cfg.Stream)
	if err := rdb.XGroupCreateMkStream(ctx, keys.Events, keys.Group, "0").Err(); err != nil && err.Error() != "BUSYGROUP Consumer Group name already exists" {
		return fmt.Errorf("create group %s on %s: %w", keys.Group, keys.Events, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ready := func(ctx context.Context) error {
		if err := rdb.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		return nil
	}
	if e.cfg.Admin.Addr != "" {
		srv, err := admin.New(admin.Config{Addr: e.cfg.Admin.Addr, Token: e.cfg.Admin.Token}, ready, reg, nil, e.log)
		if err != nil {
			return err
		}
		if err := srv.Start(); err != nil {
			return err
		}
		defer func() {
			c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Close(c)
		}()
	}
	e.log.Info("streamsync running", "events", keys.Events, "group", keys.Group, "partner", e.cfg.Sink.BaseURL)
	<-ctx.Done()
	e.log.Info("streamsync stopping")
	if errors.Is(context.Cause(ctx), context.Canceled) {
		return nil
	}
	return nil
}
