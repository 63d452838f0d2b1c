package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
	// MaxLen is the hard bound on the stream's length (stream.max_len_hard;
	// 0: none): past it the oldest entries are trimmed even when a group
	// has not read or acked them (docs/reliability.md, "A consumer group
	// nobody reads").
	MaxLen int64
	// Known are the consumer groups of the configured partners: a loss at
	// MaxLen in one of them is an ERROR, in any other a WARN.
	Known []string
	// Metrics counts the entries lost at MaxLen; nil counts nothing. One
	// TrimMetrics serves every Trimmer of a process.
	Metrics *TrimMetrics
	Clock   Clock
	Logger  *slog.Logger
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
	case c.MaxLen < 0:
		return errors.New("trim: max len must be 0 or more")
	}
	return nil
}

// Trimmer keeps the events stream from growing for ever: it removes the
// entries that every consumer group of the stream has read and acked, once
// they are older than KeepAcked. An entry still pending in any group, or not
// yet read by any group, is not removed — until the stream is longer than
// MaxLen: then the oldest entries go down to MaxLen whatever any group
// still needs, and each group's loss is logged and counted. A stream
// without a consumer group is not trimmed at all. Readers without a consumer group (plain XREAD) are
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

// maxHardTrimCalls bounds the script calls of one Trim past MaxLen
// (layout.DefaultTrimPastBound entries each); the next Trim goes on.
const maxHardTrimCalls = 100

// Trim removes, in one atomic call, every entry below the oldest one some
// consumer group still needs and older than KeepAcked, and returns how many
// it removed. With MaxLen set, a stream still longer than MaxLen then loses
// its oldest entries down to MaxLen whatever the groups need (a few
// thousand per call, up to maxHardTrimCalls calls); each group that lost
// entries it had not acked is logged and counted (lost).
func (t *Trimmer) Trim(ctx context.Context) (int64, error) {
	keepBelow := t.cfg.Clock.Now().Add(-t.cfg.KeepAcked).UnixMilli()
	var removed int64
	lost := map[string]layout.GroupLoss{}
	defer func() { t.lost(lost) }()
	for range maxHardTrimCalls {
		r, err := layout.TrimAcked(ctx, t.rdb, t.cfg.Stream, keepBelow, t.cfg.MaxLen, 0)
		if err != nil {
			return removed, err
		}
		removed += r.Removed
		for _, l := range r.Lost {
			sum := lost[l.Group]
			sum.Group, sum.Unread, sum.Pending = l.Group, sum.Unread+l.Unread, sum.Pending+l.Pending
			lost[l.Group] = sum
		}
		if !r.More {
			break
		}
	}
	return removed, nil
}

// lost logs and counts the entries each group lost at the hard bound: an
// ERROR for a configured partner's group (its events, not delivered), a
// WARN for a group no configured partner reads.
func (t *Trimmer) lost(lost map[string]layout.GroupLoss) {
	for _, l := range lost {
		configured := slices.Contains(t.cfg.Known, l.Group)
		t.cfg.Metrics.add(l.Group, configured, l.Unread+l.Pending)
		attrs := []any{"stream", t.cfg.Stream, "group", l.Group, "unread", l.Unread, "pending", l.Pending, "max_len_hard", t.cfg.MaxLen}
		if configured {
			t.cfg.Logger.Error("EVENTS TRIMMED BEFORE A CONFIGURED PARTNER HAD THEM: the events stream reached stream.max_len_hard while this partner's group was behind; see docs/reliability.md", attrs...)
		} else {
			t.cfg.Logger.Warn("entries trimmed that a consumer group of no configured partner had not read: the events stream reached stream.max_len_hard; retire the group (streamsync partner retire) or XGROUP DESTROY it", attrs...)
		}
	}
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

// TrimMetrics counts the entries trimmed at stream.max_len_hard that a
// consumer group had not acked: streamsync_stream_trimmed_unacked_total,
// by group and configured ("true" for a configured partner's group).
type TrimMetrics struct {
	unacked *prometheus.CounterVec
}

// NewTrimMetrics registers the trimming metrics on reg.
func NewTrimMetrics(reg prometheus.Registerer) *TrimMetrics {
	m := &TrimMetrics{unacked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamsync_stream_trimmed_unacked_total",
		Help: "Events-stream entries trimmed at stream.max_len_hard before a consumer group had read or acked them, by group."},
		[]string{"group", "configured"})}
	if reg != nil {
		reg.MustRegister(m.unacked)
	}
	return m
}

func (m *TrimMetrics) add(group string, configured bool, n int64) {
	if m == nil || n <= 0 {
		return
	}
	m.unacked.WithLabelValues(group, strconv.FormatBool(configured)).Add(float64(n))
}
