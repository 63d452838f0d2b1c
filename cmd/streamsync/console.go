package main

import (
	"context"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/admin"
	"github.com/streamsync/streamsync/pipeline"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// consoleAPI adds the console's endpoints (the live chart's series, chain
// timelines) to the admin API and samples the counters until ctx ends.
func consoleAPI(ctx context.Context, e *env, rdb redis.UniversalClient, keys pipeline.Keys, ops pipeline.DeadOps, chains admin.ChainLister, api http.Handler) (http.Handler, error) {
	var lag admin.ExportLagFunc
	tl, _ := chains.(admin.TimelineFinder)
	if tl != nil {
		lag = func(ctx context.Context) (admin.ExportLag, error) {
			b, err := attemptlog.ReadBacklog(ctx, rdb, keys.Attempts, time.Now())
			return admin.ExportLag{BacklogRows: b.Rows, Seconds: b.Age.Seconds()}, err
		}
	}
	c, err := admin.NewConsole(admin.ConsoleConfig{Logger: e.log}, ops, tl, lag)
	if err != nil {
		return nil, err
	}
	go c.Run(ctx)
	return c.Wrap(api), nil
}
