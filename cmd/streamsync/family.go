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
// --partner's).
func printFamily(ctx context.Context, e *env, conn driver.Conn, id, partner string) error {
	fams, err := attemptlog.FindFamily(ctx, conn, e.cfg.ClickHouse.Database, id, partner)
	if err != nil {
		return fmt.Errorf("clickhouse.addr %s: %w", e.cfg.ClickHouse.Addr, err)
	}
	if e.format == "json" {
		if fams == nil {
			fams = []attemptlog.Family{}
		}
		return json.NewEncoder(e.out).Encode(map[string]any{"families": fams})
	}
	tw := newTable(e.out)
	if len(fams) == 0 {
		fmt.Fprintf(tw, "no chain %s in the attempt log\n", id)
		return tw.Flush()
	}
	for i, f := range fams {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		p := f.Parent
		fmt.Fprintf(tw, "CHAIN %s\tpartner %s\taccount %s\t%s/%s\t%s at %s\n", p.ChainID, f.Partner, p.Account, p.Entity, p.Key, p.LastStep, p.LastTS.UTC().Format(time.DateTime))
		if len(f.Children) == 0 {
			fmt.Fprintln(tw, "  no child waited on it")
		}
		for _, c := range f.Children {
			fmt.Fprintf(tw, "  child %s\t\t%s/%s\t%s at %s\n", c.ChainID, c.Entity, c.Key, c.LastStep, c.LastTS.UTC().Format(time.DateTime))
		}
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
	}
	return tw.Flush()
}
