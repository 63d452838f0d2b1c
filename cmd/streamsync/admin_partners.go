package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"github.com/streamsync/streamsync/event"
	"strings"

	"github.com/streamsync/streamsync/inspect"
)

// partnerOps are the admin API's operations over every partner
// (docs/console.md): each partner's own Inspector, picked by the request's
// partner; without one, the first partner's status, every partner's dead
// letters, and a replay or drop refused when several are configured.
type partnerOps struct {
	names []string
	by    map[string]*inspect.Inspector // status
	dead  map[string]*inspect.Inspector // dead letters: a two-way partner's inbound ones too
	plans map[string]partnerPlan
	p     *runProcess
}

// newPartnerOps builds one Inspector per partner the process delivers to.
func newPartnerOps(p *runProcess) partnerOps {
	o := partnerOps{by: map[string]*inspect.Inspector{}, dead: map[string]*inspect.Inspector{}, plans: map[string]partnerPlan{}, p: p}
	multi := len(p.partnerNames()) > 1
	for _, pr := range p.partners {
		if pr.direction != directionOut {
			continue
		}
		label := ""
		if multi {
			label = pr.plan.name
		}
		o.names = append(o.names, pr.plan.name)
		o.by[pr.plan.name] = inspect.New(inspect.Options{RDB: p.rdb, Shards: pr.plan.shards, Instance: p.consumer,
			AttemptLog: p.attemptLog(), Partner: label})
		o.dead[pr.plan.name] = inspect.New(inspect.Options{RDB: p.rdb, Shards: deadShards(pr.plan), Instance: p.consumer,
			AttemptLog: p.attemptLog(), Partner: label})
		o.plans[pr.plan.name] = pr.plan
	}
	return o
}

// errNoPartner is a partner= that names no configured partner.
var errNoPartner = errors.New("no such partner")

func (o partnerOps) pick(name string) (*inspect.Inspector, error) { return o.pickIn(o.by, name) }

func (o partnerOps) pickIn(m map[string]*inspect.Inspector, name string) (*inspect.Inspector, error) {
	if name == "" {
		return m[o.names[0]], nil
	}
	if i, ok := m[name]; ok {
		return i, nil
	}
	return nil, fmt.Errorf("partner %q: %w (configured: %s)", name, errNoPartner, strings.Join(o.names, ", "))
}

func (o partnerOps) first() *inspect.Inspector { return o.by[o.names[0]] }

func (o partnerOps) Status(ctx context.Context) (inspect.Status, error) { return o.first().Status(ctx) }

func (o partnerOps) PartnerStatus(ctx context.Context, partner string) (inspect.Status, error) {
	i, err := o.pick(partner)
	if err != nil {
		return inspect.Status{}, err
	}
	return i.Status(ctx)
}

// ListDead lists one partner's dead letters, or with no partner and
// several configured every partner's, one after the other: the cursor is
// then "<partner>/<that partner's cursor>".
func (o partnerOps) ListDead(ctx context.Context, f inspect.DeadFilter, cursor string, limit int) ([]inspect.DeadLetter, string, error) {
	if f.Partner != "" || len(o.names) == 1 {
		i, err := o.pickIn(o.dead, f.Partner)
		if err != nil {
			return nil, "", err
		}
		return i.ListDead(ctx, f, cursor, limit)
	}
	plans := make([]partnerPlan, len(o.names))
	inspectors := make([]*inspect.Inspector, len(o.names))
	for i, name := range o.names {
		plans[i], inspectors[i] = o.plans[name], o.dead[name]
	}
	return listDead(ctx, plans, inspectors, f, cursor, limit) // as `dead list` pages them
}

func (o partnerOps) ReplayDead(ctx context.Context, f inspect.DeadFilter) ([]string, error) {
	i, err := o.one(f)
	if err != nil {
		return nil, err
	}
	if f.Take != "" {
		pl := o.plans[cmp.Or(f.Partner, o.names[0])]
		return settleConflicts(ctx, o.p.rdb, pl, i, f, f.Take, event.Limits{MaxBytes: o.p.cfg.Event.MaxBytes})
	}
	return i.ReplayDead(ctx, f)
}

func (o partnerOps) DropDead(ctx context.Context, f inspect.DeadFilter) ([]string, error) {
	i, err := o.one(f)
	if err != nil {
		return nil, err
	}
	return i.DropDead(ctx, f)
}

// one is the Inspector a replay or a drop acts on: f's partner, or the
// only one.
func (o partnerOps) one(f inspect.DeadFilter) (*inspect.Inspector, error) {
	if f.Partner == "" && len(o.names) > 1 {
		return nil, fmt.Errorf("several partners are configured (%s): name one (partner)", strings.Join(o.names, ", "))
	}
	return o.pickIn(o.dead, f.Partner)
}
