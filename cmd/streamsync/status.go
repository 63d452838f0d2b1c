package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/spf13/pflag"

	"github.com/streamsync/streamsync/inspect"
)

func statusFlags(fs *pflag.FlagSet) { partnerFlag(fs) }

// statusAnswer is `status --format json` with one partner: its counters as
// they always were, and the consumer groups that belong to no configured
// partner.
type statusAnswer struct {
	inspect.Status
	// Inbound is a two-way partner's other direction: its changes on
	// their way to our system (docs/partners.md, "Two-way sync").
	Inbound      *inspect.Status      `json:"inbound,omitempty"`
	Unconfigured []inspect.StrayGroup `json:"unconfigured_groups,omitempty"`
}

// partnersAnswer is `status --format json` with several partners and no
// --partner: each one's counters by name (docs/operations.md, "Several
// partners").
type partnersAnswer struct {
	StreamLength int64                     `json:"stream_length"`
	Partners     map[string]inspect.Status `json:"partners"`
	// Inbound: the two-way partners' other direction, by name.
	Inbound      map[string]inspect.Status `json:"inbound,omitempty"`
	Unconfigured []inspect.StrayGroup      `json:"unconfigured_groups,omitempty"`
}

// runStatus is `streamsync status [--partner NAME]`: the counters of the
// partner named, of the only one, or of every one, a section each.
func runStatus(ctx context.Context, e *env) error {
	all, _ := cliPlans(e)
	plans, err := selectedPlans(e)
	if err != nil {
		return err
	}
	rdb, err := connectRedis(ctx, e.cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	stats := make([]inspect.Status, len(plans))
	inbound := make([]*inspect.Status, len(plans))
	for i, pl := range plans {
		if stats[i], err = inspect.New(inspect.Options{RDB: rdb, Shards: pl.shards, Partner: partnerLabel(all, pl)}).Status(ctx); err != nil {
			return err
		}
		if pl.conf.TwoWay() {
			in, err := inspect.New(inspect.Options{RDB: rdb, Shards: pl.shards.Inbound(), Partner: partnerLabel(all, pl)}).Status(ctx)
			if err != nil {
				return err
			}
			inbound[i] = &in
		}
	}
	stray, err := inspect.StrayGroups(ctx, rdb, shardsOf(e.cfg), e.cfg.Stream.Group, knownGroups(all))
	if err != nil {
		return err
	}
	if e.format == "json" {
		enc := json.NewEncoder(e.out)
		enc.SetIndent("", "  ")
		if len(plans) == 1 {
			return enc.Encode(statusAnswer{Status: stats[0], Inbound: inbound[0], Unconfigured: stray})
		}
		a := partnersAnswer{StreamLength: stats[0].StreamLength, Partners: map[string]inspect.Status{}, Unconfigured: stray}
		for i, pl := range plans {
			a.Partners[pl.name] = stats[i]
			if inbound[i] != nil {
				if a.Inbound == nil {
					a.Inbound = map[string]inspect.Status{}
				}
				a.Inbound[pl.name] = *inbound[i]
			}
		}
		return enc.Encode(a)
	}
	for i, s := range stats {
		if i > 0 {
			fmt.Fprintln(e.out)
		}
		if len(all) > 1 {
			fmt.Fprintf(e.out, "== partner %s (group %s)\n", plans[i].name, plans[i].shards[0].Group)
		}
		if err := printStatus(e, s, e.cfg.Stream.Events, plans[i].sink.Key("client_id")); err != nil {
			return err
		}
		if in := inbound[i]; in != nil {
			fmt.Fprintf(e.out, "\n== partner %s: its changes to our system (stream %s)\n", plans[i].name, plans[i].shards.Inbound()[0].Events)
			if err := printStatus(e, *in, plans[i].shards.Inbound()[0].Events, oursSettings(e.cfg).Key("client_id")); err != nil {
				return err
			}
		}
	}
	return printStrayGroups(e, stray)
}

// printStatus prints one partner's counters as a table.
// clientID is the setting of the credentials, for the line that says
// they are refused.
func printStatus(e *env, s inspect.Status, stream, clientID string) error {
	tw := newTable(e.out)
	fmt.Fprintf(tw, "stream\t%s\n", stream)
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
		fmt.Fprintf(tw, "partner, as %s sees it\t%s\n", p.Instance, partnerLine(p, clientID))
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

// printStrayGroups warns of the consumer groups that hold trimming back
// for a partner no longer configured, each group once with its entries
// behind summed over the shards.
func printStrayGroups(e *env, stray []inspect.StrayGroup) error {
	var order []string
	byGroup := map[string]inspect.StrayGroup{}
	for _, g := range stray {
		sum, seen := byGroup[g.Group]
		if !seen {
			order = append(order, g.Group)
			sum = inspect.StrayGroup{Group: g.Group, Partner: g.Partner}
		}
		sum.Pending += g.Behind()
		byGroup[g.Group] = sum
	}
	for _, name := range order {
		g := byGroup[name]
		line := fmt.Sprintf("\ngroup %s holds back trimming: %d entries behind; ", g.Group, g.Pending)
		if g.Partner != "" {
			line += fmt.Sprintf("retire it with `streamsync partner retire %s`\n", g.Partner)
		} else {
			line += "it belongs to no configured partner (XGROUP DESTROY it if nothing reads with it)\n"
		}
		if _, err := fmt.Fprint(e.out, line); err != nil {
			return err
		}
	}
	return nil
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
func partnerLine(p inspect.PartnerState, clientID string) string {
	line := "breaker " + p.Breaker
	if p.Breaker != "closed" {
		line += " (partner down: delivery paused, probing)"
	}
	if !p.AuthOK {
		line += fmt.Sprintf("; CREDENTIALS REFUSED by %s for %s %q since %s: %s",
			p.TokenURL, clientID, p.ClientID, time.UnixMilli(p.AuthRefusedSince).UTC().Format(time.RFC3339), p.AuthError)
	}
	return line
}
