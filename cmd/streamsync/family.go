package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// printFamily is `streamsync chains --id ID`: the chain, the children that
// waited on it and all their steps on one timeline, at each partner (or
// --partner's). A chain the attempt log does not have is an error (the
// command exits 2, the message on stderr), as a dead letter not found is.
func printFamily(ctx context.Context, e *env, conn driver.Conn, id, partner string) error {
	fams, err := attemptlog.FindFamily(ctx, conn, e.cfg.ClickHouse.Database, id, partner)
	if err != nil {
		return fmt.Errorf("clickhouse.addr %s: %w", e.cfg.ClickHouse.Addr, err)
	}
	if len(fams) == 0 {
		if partner != "" {
			return fmt.Errorf("chains --id: no chain %s at partner %s in the attempt log", id, partner)
		}
		return fmt.Errorf("chains --id: no chain %s in the attempt log", id)
	}
	if e.format == "json" {
		return json.NewEncoder(e.out).Encode(map[string]any{"families": fams})
	}
	for i, f := range fams {
		if i > 0 {
			fmt.Fprintln(e.out)
		}
		if err := printFamilyHead(e, f); err != nil {
			return err
		}
		if err := printFamilyTimeline(e, f); err != nil {
			return err
		}
	}
	return nil
}

// printFamilyHead prints the parent and its children as a table of their
// own: the timeline's widths are not theirs.
func printFamilyHead(e *env, f attemptlog.Family) error {
	tw := newTable(e.out)
	p := f.Parent
	fmt.Fprintf(tw, "CHAIN %s\tpartner %s\taccount %s\t%s/%s\t%s at %s\tstranded %d\n", p.ChainID, f.Partner, p.Account, p.Entity, p.Key, p.LastStep, p.LastTS.UTC().Format(time.DateTime), p.Stranded)
	if len(f.Children) == 0 {
		fmt.Fprintln(tw, "  no child waited on it")
	}
	for _, c := range f.Children {
		fmt.Fprintf(tw, "  child %s\t\taccount %s\t%s/%s\t%s at %s\n", c.ChainID, c.Account, c.Entity, c.Key, c.LastStep, c.LastTS.UTC().Format(time.DateTime))
	}
	return tw.Flush()
}

// printFamilyTimeline prints every step of the family in time order.
func printFamilyTimeline(e *env, f attemptlog.Family) error {
	tw := newTable(e.out)
	fmt.Fprintln(tw, "  TIME (UTC)\tWHOSE\tSTEP\tATTEMPT\tHTTP\tERROR")
	for _, s := range f.Timeline {
		status := ""
		if s.HTTPStatus > 0 {
			status = fmt.Sprint(s.HTTPStatus)
		}
		fmt.Fprintf(tw, "  %s\t%s %s %s/%s\t%s\t%d\t%s\t%s\n", s.TS.UTC().Format("2006-01-02 15:04:05.000"), s.Role, s.ChainID, s.Entity, s.Key, s.Step.Step, s.Attempt, status, s.Error)
	}
	if f.Truncated {
		fmt.Fprintf(tw, "  (only the first %d children or steps read)\n", attemptlog.MaxFamilyChildren)
	}
	return tw.Flush()
}
