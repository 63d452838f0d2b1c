package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/lease"
	"github.com/streamsync/streamsync/internal/proof"
	"github.com/streamsync/streamsync/pipeline/ordered"
	"github.com/streamsync/streamsync/tracing"
	"go.opentelemetry.io/otel/trace"
)

// Config configures a Pipeline.
type Config struct {
	// Keys names the keys of a single-shard pipeline; Shards, when set, the
	// keys of every shard (docs/scaling.md), and Keys is ignored.
	Keys     layout.Keys
	Shards   layout.Shards
	Consumer string // consumer name in the group; stable across restarts
	// Name, when set, is the consumer name this process holds already
	// (TakeConsumerName, with a default name picked); Consumer is then
	// its name, and the caller releases it after Run. When nil, Run takes
	// Consumer as a name the user set, and gives it up when it returns.
	Name     *ConsumerName
	Instance string // the attempt log's instance column
	// Subscriber tuning; Stream, Group and Consumer are filled in from Keys
	// and Consumer, Unmarshaller (EntryMarshaller) and OrderKey (AccountKey)
	// when not set.
	Subscriber  ordered.Config
	PartnerName string
	// Route says whether an entry is for this pipeline's partner, one of
	// several reading the same events stream (docs/partners.md, "Several
	// partners"); nil takes every entry. An entry it refuses, or one whose
	// _ss_for names another partner than the shard keys' Target, is acked
	// with no step and no row: it is not this partner's.
	Route func(fields map[string]string) bool
	// TwoWay is the step of a two-way partner's echoes and conflicts
	// (package twoway); nil for a one-way partner.
	TwoWay handlers.StepFunc
	Limits event.Limits
	Retry  handlers.RetryPolicy
	// MaxWait bounds a child's wait for a parent never seen; Recheck is how
	// often a parked child is looked at again at the latest.
	MaxWait time.Duration
	Recheck time.Duration
	// MoveEvery is how often the delayed and retry ZSETs are looked at (50ms).
	MoveEvery time.Duration
	// LeaseTTL is how long an account's lease outlives a process that died
	// holding it: at least the partner timeout, so that a request of the dead
	// process is over before another one for the account starts (30s).
	LeaseTTL time.Duration
	// AttemptLog turns the per-step rows on.
	AttemptLog bool
	// Records reads our source for op=sync events (docs/backfill.md); nil
	// (source.kind none) dead-letters them invalid.
	Records handlers.RecordReader
	// Tracing makes a span per step of every event (package tracing); nil is off.
	Tracing    trace.TracerProvider
	Clock      Clock
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

func (c *Config) setDefaults() {
	if c.Name != nil {
		c.Consumer = c.Name.Name()
	}
	if c.Instance == "" {
		c.Instance = c.Consumer
	}
	if c.Recheck <= 0 {
		c.Recheck = min(30*time.Second, max(c.MaxWait/10, 100*time.Millisecond))
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 30 * time.Second
	}
	if c.MoveEvery <= 0 {
		c.MoveEvery = 50 * time.Millisecond
	}
	if c.Clock == nil {
		c.Clock = WallClock
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Subscriber.DrainTimeout <= 0 {
		c.Subscriber.DrainTimeout = ordered.DefaultDrainTimeout
	}
	if c.Subscriber.Unmarshaller == nil {
		c.Subscriber.Unmarshaller = EntryMarshaller{}
	}
	if c.Subscriber.OrderKey == nil {
		c.Subscriber.OrderKey = AccountKey
	}
	if c.Subscriber.Vanished == "" {
		c.Subscriber.Vanished = handlers.MetaVanished
	}
	if len(c.Shards) == 0 {
		c.Shards = layout.Shards{c.Keys}
	}
	c.Keys = c.Shards[0]
	c.Subscriber.Group, c.Subscriber.Consumer = c.Keys.Group, c.Consumer
	c.Subscriber.Logger = c.Logger
}

// Validate reports settings the pipeline cannot run with.
func (c Config) Validate() error {
	switch {
	case c.Keys.Events == "" || c.Keys.Group == "":
		return errors.New("pipeline: stream and group required")
	case c.Keys.ProofKey == "":
		return errors.New("pipeline: the proof key's name is required (NewKeys and NewShards name it)")
	case c.Consumer == "":
		return errors.New("pipeline: consumer name required")
	case c.PartnerName == "":
		return errors.New("pipeline: partner name required")
	case c.Retry.Initial <= 0 || c.Retry.Max < c.Retry.Initial || c.Retry.MaxAttempts < 1:
		return errors.New("pipeline: retry policy needs initial > 0, max ≥ initial, max attempts ≥ 1")
	case !sameGroup(c.Shards):
		return errors.New("pipeline: every shard needs the same consumer group")
	case c.MaxWait <= 0:
		return errors.New("pipeline: max wait must be more than 0")
	}
	return nil
}

// Pipeline is streamsync's event flow: the ordered subscriber feeding a
// Watermill router whose one handler runs the steps and commits each
// outcome, and the movers that bring due events back from the ZSETs.
type Pipeline struct {
	cfg     Config
	rdb     redis.UniversalClient
	subs    []*ordered.Subscriber // one per shard
	trips   *layout.RoundTrips    // shared by the lookups and commits of every shard
	router  *message.Router
	steps   handlers.Steps
	commit  *committer
	owners  *owners
	workers *workers
	movers  []*mover
	// moversOf: a shard's events stream → its delayed and retry movers
	moversOf map[string][2]*mover
	metrics  *metrics
	runID    string
	settling settling // accounts whose lease runs out after an unsettled call
	tracer   *tracing.Tracer
	proofs   *proof.Verifier
	log      *slog.Logger
}

// New builds a Pipeline that delivers with sender. Close does not close rdb.
func New(cfg Config, rdb redis.UniversalClient, sender handlers.Sender) (*Pipeline, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: cfg.Subscriber.DrainTimeout + 5*time.Second}, newRouterLogger(cfg.Logger))
	if err != nil {
		return nil, fmt.Errorf("pipeline: router: %w", err)
	}
	runID := newRunID(cfg.Consumer)
	tr := tracing.New(cfg.Tracing)
	trips := layout.NewRoundTrips(rdb)
	p := &Pipeline{trips: trips,
		cfg: cfg, rdb: rdb, router: router, log: cfg.Logger, runID: runID, tracer: tr,
		commit:   &committer{instance: cfg.Instance, runID: runID, rows: cfg.AttemptLog, trips: trips},
		metrics:  newMetrics(cfg.Registerer),
		moversOf: map[string][2]*mover{},
		proofs:   proof.NewVerifier(rdb, cfg.Keys.ProofKey, cfg.Clock.Now),
		// at most one handler per held entry of every shard
		workers: newWorkers(len(cfg.Shards) * cmp.Or(cfg.Subscriber.MaxInFlight, ordered.DefaultMaxInFlight)),
	}
	p.steps = handlers.NewSteps(handlers.StepsConfig{Limits: cfg.Limits, Records: cfg.Records, OnSourceFailure: p.metrics.sourceFailures.Inc,
		PartnerName: cfg.PartnerName, Retry: cfg.Retry, MaxWait: cfg.MaxWait, Recheck: cfg.Recheck, Sender: sender, TwoWay: cfg.TwoWay}, tr.Wrap)
	router.AddMiddleware(middleware.Recoverer)
	p.owners = newOwners(rdb, cfg.Shards, cfg.Consumer, cfg.LeaseTTL, cfg.Logger)
	for i, keys := range cfg.Shards {
		sc := cfg.Subscriber
		sc.Stream = keys.Events
		sc.Gate = p.owners
		sub, err := ordered.NewSubscriber(sc, rdb)
		if err != nil {
			return nil, err
		}
		p.subs = append(p.subs, sub)
		name := "streamsync"
		if len(cfg.Shards) > 1 {
			name = fmt.Sprintf("streamsync-shard-%d", i)
		}
		router.AddConsumerHandler(name, keys.Events, sub, func(msg *message.Message) error {
			return p.workers.run(func() error { return p.handle(keys, msg) })
		})
		var pair [2]*mover
		for i, m := range []struct {
			zset string
			step handlers.Step
		}{{keys.Delayed, handlers.StepReleased}, {keys.Retry, ""}} {
			zset := m.zset
			pair[i] = &mover{rdb: rdb, keys: keys, zset: zset, step: m.step, rows: cfg.AttemptLog,
				instance: cfg.Instance, clock: cfg.Clock, every: cfg.MoveEvery, log: cfg.Logger,
				moved: func(n int) { p.metrics.moved.WithLabelValues(zset).Add(float64(n)) },
				owned: func() bool { return p.owners.owns(keys.Events) }, poke: make(chan struct{}, 1)}
			p.movers = append(p.movers, pair[i])
		}
		p.moversOf[keys.Events] = pair
	}
	return p, nil
}

// Run runs until ctx ends, then stops reading, lets the events in flight
// finish (or leaves them pending in Redis, after a bound) and returns.
// Without Config.Name it first takes Config.Consumer as a name the user
// set, and fails with ErrConsumerInUse when another running process has it
// (after waiting up to 6 s for a crashed former life's hold on the name to
// lapse).
func (p *Pipeline) Run(ctx context.Context) error {
	if p.cfg.Name == nil {
		name, err := TakeConsumerName(ctx, p.rdb, p.cfg.Shards, NameConfig{Name: p.cfg.Consumer, Logger: p.log})
		if err != nil {
			return err
		}
		defer name.Release()
	}
	moverCtx, stopMovers := context.WithCancel(context.Background())
	done := make(chan struct{})
	for _, m := range p.movers {
		go func() { m.run(moverCtx); done <- struct{}{} }()
	}
	go func() { p.owners.run(moverCtx); done <- struct{}{} }()
	err := p.router.Run(ctx)
	stopMovers()
	for range len(p.movers) + 1 {
		<-done
	}
	p.owners.leave() // every entry in hand is finished or left pending: other processes may read the shards
	p.workers.close()
	return err
}

// Running is closed once the pipeline reads.
func (p *Pipeline) Running() <-chan struct{} { return p.router.Running() }

// Ready reports nil once Redis answers, the group exists and entries are
// being read.
func (p *Pipeline) Ready(ctx context.Context) error {
	if err := p.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	for i, sub := range p.subs {
		if !sub.Reading(p.cfg.Subscriber.Block + 5*time.Second) {
			return fmt.Errorf("not reading the events stream %s", p.cfg.Shards[i].Events)
		}
	}
	return nil
}

// handle runs one entry through the steps and commits the outcome. An
// error leaves the entry pending: it is handed out again.
func (p *Pipeline) handle(keys layout.Keys, msg *message.Message) (err error) {
	start := time.Now()
	var o *handlers.Outcome
	en := entry{streamID: msg.Metadata.Get(MetaStreamID)}
	fields, err := Fields(msg)
	if err != nil {
		fields = map[string]string{}
	}
	en.fields = fields
	if !p.forUs(keys, fields) {
		p.metrics.passedBy.Inc()
		return nil // acked by the subscriber, in its next batch
	}
	stopKeeping := func() {}
	defer func() { stopKeeping() }()
	ctx, span := p.tracer.Begin(msg.Context(), fields, en.streamID)
	defer func() {
		if errors.Is(err, ErrAccountBusy) {
			span.SetAttributes(tracing.AttrStep.String("account_busy")) // handed out again later; not a failure
			tracing.End(span, nil, nil)
			return
		}
		tracing.End(span, o, err)
	}()
	w := &handlers.Work{Fields: fields}
	if gone := fields[handlers.MetaVanished]; gone != "" {
		o, en.vanished = vanishedOutcome(gone, keys.Events), gone
	} else if o, err = p.steps.Validate(ctx, w); err != nil {
		p.metrics.failures.Inc()
		return err
	}
	e, meta := w.Event, w.Meta
	hash := ""
	if o == nil && meta.Proof != "" {
		if meta.Proven, err = p.checkProof(ctx, e, fields); err != nil {
			p.metrics.failures.Inc()
			return err
		}
	}
	// release gives the account's lease up, unless a partner call may still
	// be under way: then it runs out (leaseCheck.Unsettled).
	release := func() {
		if !en.keepLease {
			p.releaseLease(keys, e.Account)
		}
	}
	if o == nil {
		w.Meta, w.Now = meta, p.cfg.Clock.Now()
		acct := lease.New(p.rdb, keys.Lease(e.Account), p.runID, p.cfg.LeaseTTL)
		if p.settling.waits(acct.Key) {
			p.log.Debug("the account's lease runs out after a partner call that went unanswered; the event waits", "event_id", e.ID, "account", e.Account)
			msg.Nack()
			return nil
		}
		known := time.Now() // the lease, once taken, is held from before here
		if err := lookup(ctx, p.rdb, p.trips, keys, p.cfg.Shards, w, p.runID, p.cfg.LeaseTTL); err != nil {
			if errors.Is(err, ErrAccountBusy) {
				// Another process delivers this account: wait for it, which
				// is normal work, not a fault.
				p.log.Debug("account busy in another process; the event waits", "event_id", e.ID, "account", e.Account)
				msg.Nack()
				return nil
			}
			p.releaseLease(keys, e.Account) // taken, perhaps, before the lookup failed
			p.metrics.failures.Inc()
			return err
		}
		lc := &leaseCheck{lease: acct, at: known}
		stopKeeping = acct.Keep(lc.renewed)
		ctx = delivery.WithGuard(ctx, lc) // the sink asks for the lease before every call
		o, err = p.steps.Run(ctx, w)
		if lc.isUnsettled() {
			stopKeeping()
			en.keepLease = true
			p.settling.add(acct.Key, p.cfg.LeaseTTL)
			p.log.Warn("a partner call went unanswered and may still be under way; the account's next delivery waits for its lease to run out",
				"event_id", e.ID, "account", e.Account, "lease_ttl", p.cfg.LeaseTTL)
		}
		if err != nil {
			// No outcome: the entry stays pending and comes back; the lease
			// goes now, so that a restart (or another process) does not wait
			// out its TTL — unless a call may still be at the partner.
			stopKeeping()
			release()
			if errors.Is(err, handlers.ErrAborted) {
				p.log.Info("delivery cut short (a stop, or the account's lease is no longer this process'); the event stays pending", "event_id", e.ID, "account", e.Account, "err", err)
				msg.Nack()
				return nil
			}
			p.metrics.failures.Inc()
			return err
		}
		if o == nil {
			stopKeeping()
			release()
			return fmt.Errorf("event %s: no step gave an outcome", e.ID)
		}
		e = w.Event // as sent: a sync event resolved to an upsert or delete
		if o.Ledger != handlers.LedgerNone && o.Ledger != handlers.LedgerBump {
			hash = w.Hash()
		}
	}
	// Not msg's context: a stop must not cut a commit short once the
	// partner has answered. The shared round trip bounds the wait (10 s).
	committed, released, err := p.commit.commit(context.Background(), keys, en, e, hash, *o, p.cfg.Clock.Now())
	if err != nil {
		stopKeeping()
		release()
		p.metrics.failures.Inc()
		return err
	}
	msg.Metadata.Set(MetaCommitted, "1")
	switch ms := p.moversOf[keys.Events]; {
	case !committed:
	case released || o.Step == handlers.StepParked:
		ms[0].wake()
	case o.Step == handlers.StepRetryScheduled:
		ms[1].wake()
	}
	if !committed {
		p.log.Debug("outcome committed before; not again", "stream_id", en.streamID, "event_id", e.ID)
		return nil
	}
	if en.vanished != "" {
		p.metrics.vanished.Inc()
	}
	p.metrics.observeEndToEnd(e, o.Step, p.cfg.Clock.Now())
	if o.DeadReason != "" {
		p.metrics.dead.WithLabelValues(o.DeadReason).Inc()
	}
	if o.Latency > 0 {
		p.metrics.latency.Observe(o.Latency.Seconds())
	}
	p.metrics.handled.Observe(time.Since(start).Seconds())
	level := slog.LevelDebug
	if o.Step == handlers.StepDead || o.Step == handlers.StepInvalid {
		level = slog.LevelWarn
	}
	// Checked first: the line's arguments cost allocations even when the
	// level is off, as Debug is in production.
	if p.log.Enabled(context.Background(), level) {
		p.log.Log(context.Background(), level, "step", "event_id", e.ID, "account", e.Account, "stream_id", en.streamID,
			"step", string(o.Step), "attempt", o.Attempt, "http_status", o.HTTPStatus, "reason", o.DeadReason, "error", o.Error)
	}
	return nil
}

// forUs reports whether an entry is this pipeline's partner's: not meant
// for another partner (_ss_for), and taken by the route.
func (p *Pipeline) forUs(keys layout.Keys, fields map[string]string) bool {
	if t := fields[handlers.MetaFor]; t != "" && t != keys.Target {
		return false
	}
	return p.cfg.Route == nil || p.cfg.Route(fields)
}

// checkProof is what the entry's proof proves (docs/security.md, "What
// only streamsync may write"); an error (the key cannot be read) leaves the
// entry pending, to be handed out again. A proof that does not verify is
// counted and logged, and the event goes on as an ordinary one.
func (p *Pipeline) checkProof(ctx context.Context, e event.Event, fields map[string]string) (proof.Kind, error) {
	kind, err := p.proofs.Verify(ctx, fields)
	if err != nil {
		return proof.None, fmt.Errorf("event %s: check its proof: %w", e.ID, err)
	}
	if kind == proof.None {
		p.metrics.proofsRejected.Inc()
		p.log.Warn("an entry carries a proof that does not verify; it is handled as an ordinary event",
			"event_id", e.ID, "account", e.Account, "origin", e.Origin)
	}
	return kind, nil
}

// releaseLease gives up the account's lease if this run holds it.
func (p *Pipeline) releaseLease(keys layout.Keys, account string) {
	if account == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := lease.New(p.rdb, keys.Lease(account), p.runID, p.cfg.LeaseTTL).Release(ctx); err != nil {
		p.log.Warn("account lease not released; it lapses by itself", "account", account, "err", err)
	}
}

func sameGroup(s layout.Shards) bool {
	for _, k := range s {
		if k.Group != s[0].Group {
			return false
		}
	}
	return true
}
