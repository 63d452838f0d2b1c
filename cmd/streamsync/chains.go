package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/pflag"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

func chainsFlags(fs *pflag.FlagSet) {
	fs.String("account", "", "only this account's chains")
	fs.String("partner", "", "only this partner's chains (default every partner's, each named)")
	fs.Duration("since", time.Hour, "chains with a step in this past window")
	fs.Duration("stuck", 5*time.Minute, "a chain waiting (parked, retrying) longer than this is stuck")
	fs.String("id", "", "one chain's family instead: the chain (its first event's id), the children that waited on it, all their steps on one timeline")
}

// runChains is `streamsync chains`: failed and stuck chains with every step.
func runChains(ctx context.Context, e *env) error {
	ch := e.cfg.ClickHouse
	if ch.Addr == "" {
		return fmt.Errorf("clickhouse.addr: required for chains (the attempt log is off)")
	}
	account, _ := e.fs.GetString("account")
	partner, _ := e.fs.GetString("partner")
	if partner != "" {
		if err := attemptlog.CheckPartner(partner); err != nil {
			return fmt.Errorf("--partner: %w", err)
		}
	}
	since, _ := e.fs.GetDuration("since")
	stuck, _ := e.fs.GetDuration("stuck")
	id, _ := e.fs.GetString("id")
	conn, err := openAttemptLog(ctx, ch, e.cfg.Sink.PartnerName)
	if err != nil {
		return err
	}
	defer conn.Close()
	if id != "" {
		return printFamily(ctx, e, conn, id, partner)
	}
	chains, truncated, err := attemptlog.Chains(ctx, conn, ch.Database, attemptlog.ChainFilter{Account: account, Partner: partner, Since: time.Now().Add(-since), Stuck: stuck})
	if err != nil {
		return fmt.Errorf("clickhouse.addr %s: %w", ch.Addr, err)
	}
	if e.format == "json" {
		if chains == nil {
			chains = []attemptlog.Chain{}
		}
		return json.NewEncoder(e.out).Encode(map[string]any{"chains": chains, "truncated": truncated})
	}
	tw := newTable(e.out)
	if len(chains) == 0 {
		fmt.Fprintf(tw, "no failed or stuck chains in the last %s\n", since)
		return tw.Flush()
	}
	fmt.Fprintln(tw, "CHAIN\tPARTNER\tACCOUNT\tENTITY/KEY\tLAST STEP AT (UTC)\tSTRANDED")
	fmt.Fprintln(tw, "  TIME (UTC)\tSTEP\tATTEMPT\tHTTP\tERROR")
	for _, c := range chains {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s/%s\t%s at %s\t%d\n", c.ChainID, c.Partner, c.Account, c.Entity, c.Key, c.LastStep, c.LastTS.UTC().Format(time.DateTime), c.Stranded)
		for _, s := range c.Steps {
			status := ""
			if s.HTTPStatus > 0 {
				status = fmt.Sprint(s.HTTPStatus)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", s.TS.UTC().Format("15:04:05.000"), s.Step, s.Attempt, status, s.Error)
		}
		if c.StepsTotal > 0 {
			fmt.Fprintf(tw, "  (the last %d of %d steps)\n", len(c.Steps), c.StepsTotal)
		}
	}
	if truncated {
		fmt.Fprintf(tw, "the %d most recent chains shown; more matched: narrow --since or name an --account or --partner\n", len(chains))
	}
	return tw.Flush()
}
