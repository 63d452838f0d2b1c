package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/streamsync/streamsync/inspect"
)

func runStatus(ctx context.Context, e *env) error {
	rdb, err := connectRedis(ctx, e.cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	s, err := inspect.New(inspect.Options{RDB: rdb, Shards: shardsOf(e.cfg)}).Status(ctx)
	if err != nil {
		return err
	}
	if e.format == "json" {
		enc := json.NewEncoder(e.out)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	tw := newTable(e.out)
	fmt.Fprintf(tw, "stream\t%s\n", e.cfg.Stream.Events)
	fmt.Fprintf(tw, "stream_length\t%d\npending\t%d\nlag\t%d\ndelayed\t%d\nretrying\t%d\ndead\t%d\nattempts_backlog\t%d\nconsumers\t%d\n",
		s.StreamLength, s.Pending, s.Lag, s.Delayed, s.Retrying, s.Dead, s.Attempts, s.Consumers)
	fmt.Fprintf(tw, "prepared\t%d\n", s.Prepared)
	if len(s.Shards) == 0 {
		fmt.Fprintf(tw, "read_by\t%s\n", orNone(s.Owner))
	}
	for _, step := range slices.Sorted(maps.Keys(s.Steps)) {
		fmt.Fprintf(tw, "step %s\t%d\n", step, s.Steps[step])
	}
	for _, p := range s.Partner {
		fmt.Fprintf(tw, "partner %s\t%s\n", p.Instance, partnerLine(p))
	}
	if err := tw.Flush(); err != nil || len(s.Shards) == 0 {
		return err
	}
	fmt.Fprintln(e.out)
	tw = newTable(e.out)
	fmt.Fprintln(tw, "SHARD\tSTREAM\tREAD BY\tLENGTH\tPENDING\tLAG\tDELAYED\tRETRYING\tDEAD\tDELIVERED")
	for i, sh := range s.Shards {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", i, sh.Stream, orNone(sh.Owner), sh.StreamLength, sh.Pending, sh.Lag, sh.Delayed, sh.Retrying, sh.Dead, sh.Steps["delivered"])
	}
	return tw.Flush()
}

// orNone is s, or "-" when empty.
func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// partnerLine says what one process knows of the partner, loudly when the
// credentials are refused (docs/events.md).
func partnerLine(p inspect.PartnerState) string {
	line := "breaker " + p.Breaker
	if p.Breaker != "closed" {
		line += " (partner down: delivery paused, probing)"
	}
	if !p.AuthOK {
		line += fmt.Sprintf("; CREDENTIALS REFUSED by %s for sink.client_id %q since %s: %s",
			p.TokenURL, p.ClientID, time.UnixMilli(p.AuthRefusedSince).UTC().Format(time.RFC3339), p.AuthError)
	}
	return line
}
