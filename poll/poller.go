package poll

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/inbound"
	"github.com/streamsync/streamsync/internal/lease"
)

// ErrBusy is a poll not made because another process holds the partner's
// poll lease (it is polling the partner now).
var ErrBusy = errors.New("another process is polling this partner")

// Poller polls one partner's entities for their changes.
type Poller struct {
	cfg    Config
	rdb    redis.UniversalClient
	list   ListFunc
	app    inbound.Appender
	m      *metrics
	holder string // the lease's value while this poller holds it
}

// New builds a Poller of cfg's partner: rdb keeps its cursors and lease,
// list reads the partner's changes (ReaderList), app appends them. Errors
// name the setting that is wrong.
func New(cfg Config, rdb redis.UniversalClient, list ListFunc, app inbound.Appender) (*Poller, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if rdb == nil || list == nil || app == nil {
		return nil, fmt.Errorf("poll %s: a Redis client, a lister and an appender are needed", cfg.Partner)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &Poller{cfg: cfg, rdb: rdb, list: list, app: app, m: newMetrics(cfg.Registerer),
		holder: cfg.Instance + ":" + hex.EncodeToString(b)}, nil
}

// Run polls at once and then every Every until ctx ends (it returns nil
// then). A failed poll is logged and counted, never fatal: the next one
// tries again from the cursor in Redis.
func (p *Poller) Run(ctx context.Context) error {
	for {
		if err := p.PollOnce(ctx); err != nil && !errors.Is(err, ErrBusy) && ctx.Err() == nil {
			p.cfg.Logger.Warn("poll: failed; trying again at the next poll", "partner", p.cfg.Partner, "in", p.cfg.Every, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.cfg.Clock.After(p.cfg.Every):
		}
	}
}

// PollOnce makes one poll of every entity, holding the partner's lease
// meanwhile: ErrBusy when another process holds it. One entity's failure
// is logged and counted and does not keep the others from being polled;
// the failures are returned joined.
func (p *Poller) PollOnce(ctx context.Context) error {
	l := lease.New(p.rdb, p.cfg.LeaseKey, p.holder, p.cfg.LeaseTTL)
	ok, err := l.Take(ctx)
	if err != nil {
		return fmt.Errorf("poll %s: lease %s: %w", p.cfg.Partner, p.cfg.LeaseKey, err)
	}
	if !ok {
		p.cfg.Logger.Debug("poll: another process is polling this partner", "partner", p.cfg.Partner)
		return ErrBusy
	}
	var lost atomic.Bool
	stop := l.Keep(func(ok bool, _ time.Time) {
		if !ok {
			lost.Store(true)
		}
	})
	defer func() {
		stop()
		_, _ = l.Release(context.WithoutCancel(ctx))
	}()
	var errs []error
	for _, entity := range p.cfg.Entities {
		if lost.Load() {
			errs = append(errs, errLeaseLost)
			break
		}
		if err := p.pollEntity(ctx, entity, &lost); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			p.m.errors.WithLabelValues(p.cfg.Partner, entity).Inc()
			p.cfg.Logger.Warn("poll: an entity's poll failed", "partner", p.cfg.Partner, "entity", entity, "err", err)
			errs = append(errs, fmt.Errorf("poll %s %s: %w", p.cfg.Partner, entity, err))
			if errors.Is(err, errLeaseLost) {
				break
			}
		}
	}
	return errors.Join(errs...)
}
