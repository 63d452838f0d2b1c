package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/admin"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/pipeline"
)

// consoleAPI adds the console's endpoints (the live chart's series, chain
// timelines) to the admin API and samples the counters until ctx ends.
func consoleAPI(ctx context.Context, e *env, rdb redis.UniversalClient, keys layout.Keys, ops pipeline.DeadOps, chains admin.ChainLister, api http.Handler) (http.Handler, error) {
	var lag admin.ExportLagFunc
	tl, _ := chains.(admin.TimelineFinder)
	if tl != nil {
		lag = func(ctx context.Context) (admin.ExportLag, error) {
			return exportLag(ctx, rdb, keys.Attempts, time.Now())
		}
	}
	c, err := admin.NewConsole(admin.ConsoleConfig{Logger: e.log}, ops, tl, lag)
	if err != nil {
		return nil, err
	}
	go c.Run(ctx)
	return c.Wrap(api), nil
}

// exportLag reads the rows waiting in the attempts stream for ClickHouse
// and the age of the oldest (its entry id starts with the unix ms it was
// written; the exporter deletes rows once ClickHouse has them).
func exportLag(ctx context.Context, rdb redis.UniversalClient, stream string, now time.Time) (admin.ExportLag, error) {
	pipe := rdb.Pipeline()
	n := pipe.XLen(ctx, stream)
	first := pipe.XRangeN(ctx, stream, "-", "+", 1)
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return admin.ExportLag{}, err
	}
	l := admin.ExportLag{BacklogRows: n.Val()}
	if msgs := first.Val(); len(msgs) > 0 {
		ms, _, _ := strings.Cut(msgs[0].ID, "-")
		if at, err := strconv.ParseInt(ms, 10, 64); err == nil {
			l.Seconds = max(0, now.Sub(time.UnixMilli(at)).Seconds())
		}
	}
	return l, nil
}
