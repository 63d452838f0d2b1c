package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"text/tabwriter"

	"github.com/streamsync/streamsync/pipeline"
)

func runStatus(ctx context.Context, e *env) error {
	rdb := newRedis(e.cfg.Redis)
	defer rdb.Close()
	if err := pingRedis(ctx, rdb, e.cfg.Redis); err != nil {
		return err
	}
	s, err := pipeline.ReadStatus(ctx, rdb, keysOf(e.cfg.Stream))
	if err != nil {
		return err
	}
	if e.format == "json" {
		enc := json.NewEncoder(e.out)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "stream\t%s\n", e.cfg.Stream.Events)
	fmt.Fprintf(tw, "stream_length\t%d\npending\t%d\nlag\t%d\ndelayed\t%d\nretrying\t%d\ndead\t%d\nattempts_backlog\t%d\nconsumers\t%d\n",
		s.StreamLength, s.Pending, s.Lag, s.Delayed, s.Retrying, s.Dead, s.Attempts, s.Consumers)
	fmt.Fprintf(tw, "prepared\t%d\n", s.Prepared)
	for _, step := range slices.Sorted(maps.Keys(s.Steps)) {
		fmt.Fprintf(tw, "step %s\t%d\n", step, s.Steps[step])
	}
	return tw.Flush()
}
