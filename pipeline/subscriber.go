package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/streams"
)

// Defaults of SubscriberConfig.
const (
	DefaultBatch         = 256
	DefaultMaxInFlight   = 1024
	DefaultBlock         = 500 * time.Millisecond
	DefaultClaimInterval = 30 * time.Second
	DefaultClaimMinIdle  = 2 * time.Minute
	DefaultAckBatch      = 512
	DefaultAckInterval   = 2 * time.Millisecond
	DefaultNackDelay     = 500 * time.Millisecond
)

// SubscriberConfig configures the ordered subscriber.
type SubscriberConfig struct {
	Stream   string // the stream; Subscribe's topic must be it or empty
	Group    string
	Consumer string // this process' consumer name; keep it across restarts to resume its own pending entries first
	// Batch is the COUNT of one XREADGROUP.
	Batch int
	// MaxInFlight bounds the entries held (read, not yet acked) at once.
	MaxInFlight int
	// Block is how long one XREADGROUP waits for new entries.
	Block time.Duration
	// ClaimInterval is how often entries left pending by other consumers for
	// ClaimMinIdle are claimed (XAUTOCLAIM). Held entries are touched every
	// ClaimMinIdle/3, so that long deliveries are not claimed from us.
	ClaimInterval time.Duration
	ClaimMinIdle  time.Duration
	// AckBatch and AckInterval: acks go out as one XACK per batch, at the
	// latest after AckInterval.
	AckBatch    int
	AckInterval time.Duration
	// NackDelay is the wait before a nacked message is handed out again.
	NackDelay time.Duration
	// DrainTimeout is how long a stop waits for messages in flight before
	// their contexts are cancelled (DefaultDrainTimeout).
	DrainTimeout time.Duration
	// Unmarshaller turns entries into messages; EntryMarshaller by default.
	Unmarshaller redisstream.Unmarshaller
	// OrderKey is the key whose messages are handed out one at a time, in
	// stream order; the account by default.
	OrderKey func(*message.Message) string
	Logger   *slog.Logger
}

func (c *SubscriberConfig) setDefaults() {
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.Block <= 0 {
		c.Block = DefaultBlock
	}
	if c.ClaimInterval <= 0 {
		c.ClaimInterval = DefaultClaimInterval
	}
	if c.ClaimMinIdle <= 0 {
		c.ClaimMinIdle = DefaultClaimMinIdle
	}
	if c.AckBatch <= 0 {
		c.AckBatch = DefaultAckBatch
	}
	if c.AckInterval <= 0 {
		c.AckInterval = DefaultAckInterval
	}
	if c.NackDelay <= 0 {
		c.NackDelay = DefaultNackDelay
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.Unmarshaller == nil {
		c.Unmarshaller = EntryMarshaller{}
	}
	if c.OrderKey == nil {
		c.OrderKey = func(m *message.Message) string { return m.Metadata.Get(MetaAccount) }
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a missing name.
func (c SubscriberConfig) Validate() error {
	switch {
	case c.Stream == "":
		return errors.New("subscriber: stream required")
	case c.Group == "":
		return errors.New("subscriber: group required")
	case c.Consumer == "":
		return errors.New("subscriber: consumer required")
	}
	return nil
}

// Subscriber is a Watermill subscriber over a Redis Streams consumer group
// that hands out at most one message per order key (account) at a time, in
// stream order, and many keys in parallel. It reads in batches, acks in
// batches, resumes its own pending entries first, and claims entries that
// dead consumers left pending. An entry it cannot read never stops it.
//
// Close does not close the Redis client passed in.
type Subscriber struct {
	cfg SubscriberConfig
	rdb redis.UniversalClient
	log *slog.Logger

	subscribed atomic.Bool
	closing    chan struct{}
	closeOnce  sync.Once
	done       chan struct{}
	acks       *acker

	lastRead atomic.Int64 // unix ms of the last successful read
	full     atomic.Bool  // as many entries held as allowed: not reading on purpose
}

// NewSubscriber builds a Subscriber.
func NewSubscriber(cfg SubscriberConfig, rdb redis.UniversalClient) (*Subscriber, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Subscriber{cfg: cfg, rdb: rdb, log: cfg.Logger, closing: make(chan struct{}), done: make(chan struct{})}
	s.acks = newAcker(rdb, cfg.Stream, cfg.Group, cfg.AckBatch, cfg.AckInterval, cfg.Logger)
	return s, nil
}

// Reading reports whether the last read from the stream succeeded within d,
// or reading waits only because as many entries as allowed are in hand (a
// slow or absent partner is backpressure, not a fault).
func (s *Subscriber) Reading(d time.Duration) bool {
	return s.full.Load() || time.Since(time.UnixMilli(s.lastRead.Load())) < d
}

// Subscribe starts reading; the channel closes when ctx ends or on Close.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if topic != "" && topic != s.cfg.Stream {
		return nil, fmt.Errorf("subscriber reads %s, not %s", s.cfg.Stream, topic)
	}
	if !s.subscribed.CompareAndSwap(false, true) {
		return nil, errors.New("subscriber: already subscribed")
	}
	if err := streams.EnsureGroup(ctx, s.rdb, s.cfg.Stream, s.cfg.Group); err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-s.closing:
		case <-ctx.Done():
		}
		cancel()
	}()
	sch := newScheduler(s, out)
	go s.acks.run()
	go func() {
		defer close(s.done)
		sch.run(ctx)
		s.acks.stop()
	}()
	return out, nil
}

// Close stops reading and handing out messages; entries not acked stay
// pending in Redis. It waits for the acks already made to be written. Safe
// to call more than once.
func (s *Subscriber) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	if s.subscribed.Load() {
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			return errors.New("subscriber: close timed out")
		}
	}
	return nil
}
