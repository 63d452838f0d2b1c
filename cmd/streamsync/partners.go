package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/streamsync/streamsync/config"
	"github.com/streamsync/streamsync/internal/layout"
)

// partnerPlan is one partner streamsync delivers to (docs/partners.md,
// "Several partners"): sink.*'s, which keeps the shard's own keys, or a
// partners entry with keys of its own (layout.Keys.ForPartner).
type partnerPlan struct {
	name   string
	sink   config.SinkConfig // PartnerName is name; Setting where it came from
	conf   config.PartnerConfig
	shards layout.Shards
	legacy bool // sink.*'s: the shard's own keys
}

// partnerPlans are the partners of cfg, sink.*'s first when it is
// configured (or when nothing else is), then partners' entries by name.
// With more than one, each one's re-entered entries name it (_ss_for).
func partnerPlans(cfg config.Config, shards layout.Shards) []partnerPlan {
	var out []partnerPlan
	multi := len(cfg.Partners) > 0
	if cfg.SinkConfigured() || !multi {
		s := shards
		if multi {
			s = make(layout.Shards, len(shards))
			for i, k := range shards {
				k.Target = cfg.Sink.PartnerName
				s[i] = k
			}
		}
		sc := cfg.Sink
		sc.Setting = "sink"
		out = append(out, partnerPlan{name: cfg.Sink.PartnerName, sink: sc, shards: s, legacy: true})
	}
	for _, name := range cfg.PartnerNames() {
		pc := cfg.Partners[name]
		sc := pc.SinkConfig
		sc.PartnerName, sc.Setting = name, config.PartnersSection+"."+name
		out = append(out, partnerPlan{name: name, sink: sc, conf: pc, shards: shards.ForPartner(name)})
	}
	return out
}

// partnerNamed is the plan of --partner name: the only partner when name
// is empty and there is one; an error listing the partners otherwise.
func partnerNamed(plans []partnerPlan, name string) (partnerPlan, error) {
	names := make([]string, len(plans))
	for i, pl := range plans {
		if pl.name == name || name == "" && len(plans) == 1 {
			return pl, nil
		}
		names[i] = pl.name
	}
	if name == "" {
		return partnerPlan{}, fmt.Errorf("several partners are configured (%s): name one with --partner", strings.Join(names, ", "))
	}
	return partnerPlan{}, fmt.Errorf("--partner %q: no such partner (configured: %s)", name, strings.Join(names, ", "))
}

// route is the plan's route as the pipeline asks it: every event when no
// list is set, else those that match each list that is (an absent origin
// matches "").
func (pl partnerPlan) route() func(map[string]string) bool {
	r := pl.conf.Route
	if len(r.Entities) == 0 && len(r.Accounts) == 0 && len(r.Origins) == 0 {
		return nil
	}
	return func(f map[string]string) bool {
		return (len(r.Entities) == 0 || slices.Contains(r.Entities, f["entity"])) &&
			(len(r.Accounts) == 0 || slices.Contains(r.Accounts, f["account"])) &&
			(len(r.Origins) == 0 || slices.Contains(r.Origins, f["origin"]))
	}
}
