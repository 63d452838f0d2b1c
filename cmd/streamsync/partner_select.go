package main

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"
	"github.com/streamsync/streamsync/config"
	"github.com/streamsync/streamsync/inspect"
)

// The operator's commands take the partner they act on (docs/operations.md,
// "Several partners"): --partner NAME; without it the only partner, or,
// for the commands that read, every partner.

// partnerFlag adds --partner to a command's flags.
func partnerFlag(fs *pflag.FlagSet) {
	fs.String("partner", "", "the partner (sink.partner_name or a partners entry); needed when several are configured")
}

// cliPlans are the configured partners and the one --partner names ("" when
// the flag is not given).
func cliPlans(e *env) ([]partnerPlan, string) {
	name, _ := e.fs.GetString("partner")
	return partnerPlans(e.cfg, shardsOf(e.cfg)), name
}

// cliPartner is the plan of --partner, or the only partner; with several
// and no --partner, an error naming them.
func cliPartner(e *env) (partnerPlan, error) {
	plans, name := cliPlans(e)
	return partnerNamed(plans, name)
}

// selectedPlans are the plans --partner names: that one (an error when it
// names none), or every one without it.
func selectedPlans(e *env) ([]partnerPlan, error) {
	plans, name := cliPlans(e)
	if name == "" {
		return plans, nil
	}
	pl, err := partnerNamed(plans, name)
	return []partnerPlan{pl}, err
}

// partnerLabel is the name Inspectors and dead letters carry: the
// partner's when several are configured, "" with one.
func partnerLabel(plans []partnerPlan, pl partnerPlan) string {
	if len(plans) > 1 {
		return pl.name
	}
	return ""
}

// knownGroups are the consumer groups of the configured partners on the
// events stream.
func knownGroups(plans []partnerPlan) []string {
	out := make([]string, len(plans))
	for i, pl := range plans {
		out[i] = pl.shards[0].Group
	}
	return out
}

// strayGroupsCounter counts the consumer groups of the events stream that
// belong to no configured partner (docs/operations.md, "Removing a
// partner"), for the gauge streamsync_stream_groups_unconfigured, e.g.
// prometheus.NewGaugeFunc(opts, strayGroupsCounter(cfg, rdb, 2*time.Second)).
// A read that fails counts -1.
func strayGroupsCounter(cfg config.Config, rdb redis.UniversalClient, timeout time.Duration) func() float64 {
	shards := shardsOf(cfg)
	known := knownGroups(partnerPlans(cfg, shards))
	return func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		n, err := inspect.CountStrayGroups(ctx, rdb, shards, cfg.Stream.Group, known)
		if err != nil {
			return -1
		}
		return float64(n)
	}
}
