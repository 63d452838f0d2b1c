package main

import (
	"cmp"
	"context"
	"fmt"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/apiclient"
	"golang.org/x/time/rate"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/streamsync/streamsync/config"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/partnerread"
	"github.com/streamsync/streamsync/poll"
	"github.com/streamsync/streamsync/profile"
	"github.com/streamsync/streamsync/twoway"
	"github.com/streamsync/streamsync/webhook"
)

// twoWays are the two-way partners of a run (docs/partners.md, "Two-way
// sync"), built before the pipelines: the appender of their changes, and
// what each partner's outbound pipeline gets from it.
type twoWays struct {
	app      *twoway.Appender
	profiles map[string]*profile.Profile
}

// newTwoWays loads the two-way partners' profiles and builds their
// appender; nil when no partner is two-way.
func newTwoWays(p *runProcess, plans []partnerPlan) (*twoWays, error) {
	t := &twoWays{profiles: map[string]*profile.Profile{},
		app: &twoway.Appender{RDB: p.rdb, Partners: map[string]layout.Shards{}, Limits: event.Limits{MaxBytes: p.cfg.Event.MaxBytes}}}
	for _, pl := range plans {
		if !pl.conf.TwoWay() {
			continue
		}
		prof, err := loadProfile(pl.sink)
		if err != nil {
			return nil, err
		}
		t.profiles[pl.name] = prof
		t.app.Partners[pl.name] = pl.shards
	}
	if len(t.profiles) == 0 {
		return nil, nil
	}
	return t, nil
}

// pair is one direction of a two-way partner: from is where its events
// come from; target reads the side they go to.
func (t *twoWays) pair(p *runProcess, pl partnerPlan, from twoway.Side, target twoway.Reader) (*twoway.Pair, error) {
	name := pl.name
	resolve := func(ctx context.Context, e event.Event) error { return t.app.ToOurs(ctx, name, e) }
	if from == twoway.Theirs {
		resolve = func(ctx context.Context, e event.Event) error { return t.app.ToTheirs(ctx, name, e) }
	}
	cfg := p.cfg
	return twoway.New(twoway.Config{Partner: name, From: from, Keys: pl.shards, Hash: t.profiles[name].Hash, Target: target,
		Policy: pl.conf.ConflictPolicy, Resolve: resolve,
		Retry:  handlers.RetryPolicy{Initial: cfg.Retry.Initial, Max: cfg.Retry.Max, MaxAttempts: cfg.Retry.MaxAttempts},
		Logger: p.log.With("partner", name)}, p.rdb)
}

// reader reads one side through its profile (sink.* style settings c),
// ids from the id map of shards.
func profileReader(p *runProcess, c config.SinkConfig, shards layout.Shards) (*partnerread.Reader, error) {
	prof, err := loadProfile(c)
	if err != nil {
		return nil, err
	}
	tc, err := tlsFor(cmp.Or(c.Setting, "sink"), c.TLSFiles())
	if err != nil {
		return nil, err
	}
	ids := layout.NewIDMapStore(p.rdb, shards)
	rc := partnerread.Config{Profile: prof, Timeout: c.Timeout, TLS: tc, IDs: ids.Get, Logger: p.log}
	if !c.UsesProfile() && c.ClientID != "" {
		// the built-in API's OAuth2 client credentials are settings, not the profile's
		toks := apiclient.NewTokens(c.EffectiveTokenURL(), c.ClientID, c.ClientSecret, &http.Client{Timeout: c.Timeout}, 30*time.Second, time.Now)
		rc.Authorize = func(r *http.Request, _ []byte, _ time.Time, _ string) error {
			tok, _, err := toks.Get(r.Context())
			if err != nil {
				return err
			}
			r.Header.Set("Authorization", "Bearer "+tok)
			return nil
		}
	}
	return partnerread.New(rc)
}

// oursSettings are ours.*, named for messages.
func oursSettings(cfg config.Config) config.SinkConfig {
	o := cfg.Ours
	o.PartnerName, o.Setting = config.OursName, "ours"
	return o
}

// webhooks is the ingest's webhook configuration for the partners whose
// webhooks.* are set; the zero Config when none are.
func (t *twoWays) webhooks(p *runProcess, plans []partnerPlan) (webhook.Config, error) {
	wc := webhook.Config{Partners: map[string]webhook.Partner{}, Appender: t.app, Recorder: newRefusals(p, plans),
		Registerer: p.reg, Logger: p.log}
	for _, pl := range plans {
		w := pl.conf.Webhooks
		if !w.On() {
			continue
		}
		secrets := make([]string, len(w.Secrets))
		for i, s := range w.Secrets {
			v, err := profile.ReadSecret(s)
			if err != nil {
				return webhook.Config{}, fmt.Errorf("%s.webhooks.secrets: entry %d: %w", pl.sink.Setting, i+1, err)
			}
			secrets[i] = v
		}
		wc.Partners[pl.name] = webhook.Partner{Profile: t.profiles[pl.name], Secrets: secrets, Scheme: w.Scheme,
			Tolerance: w.Tolerance, SeenKey: pl.shards[0].WebhookIDs()}
	}
	if len(wc.Partners) == 0 {
		return webhook.Config{}, nil
	}
	return wc, nil
}

// pollers are the pollers of the partners whose poll.every is set.
func (t *twoWays) pollers(p *runProcess, plans []partnerPlan) ([]component, error) {
	var out []component
	for _, pl := range plans {
		pc := pl.conf.Poll
		if pc.Every <= 0 {
			continue
		}
		prof := t.profiles[pl.name]
		entities := pc.Entities
		if len(entities) == 0 {
			for _, e := range slices.Sorted(maps.Keys(prof.Entities)) {
				if prof.CanPoll(e) {
					entities = append(entities, e)
				}
			}
		}
		if len(entities) == 0 {
			return nil, fmt.Errorf("%s.poll.entities: name the entities to poll: the profile names none with a read.since (the built-in one names no entities at all)", pl.sink.Setting)
		}
		r, err := profileReader(p, pl.sink, pl.shards)
		if err != nil {
			return nil, err
		}
		p.onClose(func() { _ = r.Close() })
		k := pl.shards[0]
		pr, err := poll.New(poll.Config{Partner: pl.name, Entities: entities, Profile: prof, Every: pc.Every, Overlap: pc.Overlap,
			CursorKey: k.PollCursor, LeaseKey: k.PollLock(), Instance: p.consumer, Logger: p.log.With("partner", pl.name),
			Registerer: p.reg}, p.rdb, poll.ReaderList(r), t.app)
		if err != nil {
			return nil, fmt.Errorf("%s.poll: %w", pl.sink.Setting, err)
		}
		out = append(out, &background{run: func(ctx context.Context) { _ = pr.Run(ctx) }})
	}
	return out, nil
}

// refusals writes a row for a refused webhook to the partner's inbound
// attempt rows (step webhook_refused), so that an analyst sees them beside
// the changes that got in. Anyone can send a bad webhook: rows are written
// at most refusalRows a second per partner (a burst of refusalBurst); the
// rest are counted (streamsync_webhooks_refused_total) and logged only.
type refusals struct {
	p      *runProcess
	plans  []partnerPlan
	limits map[string]*rate.Limiter
}

const (
	refusalRows  = 10
	refusalBurst = 100
)

func newRefusals(p *runProcess, plans []partnerPlan) refusals {
	r := refusals{p: p, plans: plans, limits: map[string]*rate.Limiter{}}
	for _, pl := range plans {
		r.limits[pl.name] = rate.NewLimiter(refusalRows, refusalBurst)
	}
	return r
}

func (r refusals) Refused(ctx context.Context, partner, webhookID, reason string) {
	if !r.p.attemptLog() {
		return
	}
	for _, pl := range r.plans {
		if pl.name != partner || !r.limits[pl.name].Allow() {
			continue
		}
		k := pl.shards.Inbound()[0]
		now := time.Now()
		id := cmp.Or(webhookID, "-")
		row := layout.RowFields("webhook:"+id+":"+fmt.Sprint(now.UnixNano()), event.Event{ID: id},
			handlers.Outcome{Step: handlers.StepWebhookRefused, Error: reason}, now, r.p.consumer)
		if err := r.p.rdb.XAdd(ctx, &redis.XAddArgs{Stream: k.Attempts, Values: row}).Err(); err != nil {
			r.p.log.Warn("a refused webhook's row was not written", "partner", partner, "err", err)
		}
	}
}
