package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/internal/layout"
)

// strayWarnEvery is how often the consumer groups no configured partner
// reads are named again in a WARN, after the one at start-up.
const strayWarnEvery = 15 * time.Minute

// warnStrayGroups logs a WARN for every consumer group of an events
// stream that belongs to no configured partner (known: the configured
// partners' groups) — at start-up and every `every` until ctx ends — with
// what it holds back and what becomes of that at stream.max_len_hard
// (maxLen; 0: no bound) (docs/reliability.md, "A consumer group nobody
// reads"). The gauge streamsync_stream_groups_unconfigured counts them.
func warnStrayGroups(ctx context.Context, log *slog.Logger, rdb redis.UniversalClient, shards layout.Shards, group string, known []string, maxLen int64, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		gs, err := inspect.StrayGroups(rctx, rdb, shards, group, known)
		cancel()
		if err != nil && ctx.Err() == nil {
			log.Warn("could not read the consumer groups of the events stream", "err", err)
		}
		for _, g := range gs {
			attrs := []any{"group", g.Group, "stream", g.Stream, "behind", g.Behind(), "consumers", g.Consumers, "max_len_hard", maxLen}
			what := "XGROUP DESTROY it if nothing reads with it"
			if g.Partner != "" {
				what = "retire it: streamsync partner retire " + g.Partner
			}
			if maxLen > 0 {
				log.Warn("a consumer group of no configured partner holds back trimming of the events stream up to stream.max_len_hard, past which its unread entries are trimmed; "+what, attrs...)
			} else {
				log.Warn("a consumer group of no configured partner holds back trimming of the events stream for ever (stream.max_len_hard is 0); "+what, attrs...)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
