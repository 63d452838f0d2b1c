package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/streams"
)

// Defaults of TrimConfig.
const (
	DefaultKeepAcked = time.Minute
	DefaultTrimEvery = 5 * time.Second
	// DefaultForgetIdle is how long a consumer that owns nothing pending
	// stays in its group after its last read (docs/reliability.md,
	// "Consumers").
	DefaultForgetIdle = time.Hour
)

// TrimConfig configures a Trimmer.
type TrimConfig struct {
	// Stream is the events stream.
	Stream string
	// KeepAcked is how long acked entries stay in the stream after they were
	// appended (stream.keep_acked; an entry's age is read from its id, the
	// append time in ms). 0 trims every entry as soon as every consumer
	// group has acked it.
	KeepAcked time.Duration
	// Every is how often the stream is trimmed (5s).
	Every time.Duration
	// ForgetIdle: consumers of any group of the stream that own no pending
	// entry and have not read or claimed for this long are deleted
	// (DefaultForgetIdle); Keep names consumers never deleted (this
	// process').
	ForgetIdle time.Duration
	Keep       []string
	Clock      Clock
	Logger     *slog.Logger
}

func (c *TrimConfig) setDefaults() {
	if c.Every <= 0 {
		c.Every = DefaultTrimEvery
	}
	if c.ForgetIdle <= 0 {
		c.ForgetIdle = DefaultForgetIdle
	}
	if c.Clock == nil {
		c.Clock = WallClock
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a missing stream or a negative history.
func (c TrimConfig) Validate() error {
	switch {
	case c.Stream == "":
		return errors.New("trim: stream required")
	case c.KeepAcked < 0:
		return errors.New("trim: keep acked must be 0 or more")
	}
	return nil
}

// Trimmer keeps the events stream from growing for ever: it removes the
// entries that every consumer group of the stream has read and acked, once
// they are older than KeepAcked. An entry still pending in any group, or not
// yet read by any group, is never removed; a stream without a consumer group
// is not trimmed at all. Readers without a consumer group (plain XREAD) are
// not protected.
type Trimmer struct {
	cfg TrimConfig
	rdb redis.UniversalClient
}

// NewTrimmer builds a Trimmer; Run starts it.
func NewTrimmer(cfg TrimConfig, rdb redis.UniversalClient) (*Trimmer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Trimmer{cfg: cfg, rdb: rdb}, nil
}

// Run trims every Every, and forgets idle consumers, until ctx ends.
func (t *Trimmer) Run(ctx context.Context) {
	tick := time.NewTicker(t.cfg.Every)
	defer tick.Stop()
	for {
		if n, err := t.Trim(ctx); err != nil && ctx.Err() == nil {
			t.cfg.Logger.Error("trimming the events stream failed; trying again", "stream", t.cfg.Stream, "err", err)
		} else if n > 0 {
			t.cfg.Logger.Debug("events stream trimmed", "stream", t.cfg.Stream, "removed", n)
		}
		if _, err := t.ForgetConsumers(ctx); err != nil && ctx.Err() == nil {
			t.cfg.Logger.Warn("deleting idle consumers failed; trying again", "stream", t.cfg.Stream, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Trim removes, in one atomic call, every entry below the oldest one some
// consumer group still needs and older than KeepAcked, and returns how many
// it removed.
func (t *Trimmer) Trim(ctx context.Context) (int64, error) {
	keepBelow := t.cfg.Clock.Now().Add(-t.cfg.KeepAcked).UnixMilli()
	n, err := layout.TrimAcked(ctx, t.rdb, t.cfg.Stream, keepBelow)
	if err != nil {
		return 0, err
	}
	return n, nil
}

// ForgetConsumers deletes the consumers of the stream's groups that own
// nothing pending and have been idle ForgetIdle — those of processes that
// stopped or were replaced, which would otherwise pile up in XINFO
// CONSUMERS — and logs each. A consumer that owns pending entries is kept
// however long it has been idle: its entries are claimed by a live
// consumer, and once none is left it goes too.
func (t *Trimmer) ForgetConsumers(ctx context.Context) ([]streams.Forgotten, error) {
	gone, err := streams.ForgetConsumers(ctx, t.rdb, t.cfg.Stream, t.cfg.ForgetIdle, t.cfg.Keep...)
	for _, f := range gone {
		t.cfg.Logger.Info("idle consumer with nothing pending deleted", "stream", t.cfg.Stream, "group", f.Group,
			"consumer", f.Consumer, "idle", f.Idle.Round(time.Second))
	}
	return gone, err
}
