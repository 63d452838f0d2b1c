package ordered

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/streams"
)

// closeTimeout bounds Close's wait for every subscription to stop.
const closeTimeout = 30 * time.Second

// Subscriber is a Watermill subscriber (message.Subscriber) over a Redis
// Streams consumer group that hands out at most one message per order key
// at a time, in stream order, and many keys in parallel. A message's
// context ends once it is acked or nacked, or when its subscription stops.
//
// Each Subscribe is a subscription of its own, with its own order: two
// subscriptions of one stream share the group's entries like two consumers
// do, and order per key holds within each, not across them.
//
// Close does not close the Redis client passed in.
type Subscriber struct {
	cfg Config
	rdb redis.UniversalClient
	log *slog.Logger

	mu      sync.Mutex
	closed  bool
	closing chan struct{}
	subs    sync.WaitGroup // running subscriptions

	lastRead atomic.Int64 // unix ms of the last successful read of any subscription
	full     atomic.Int32 // subscriptions holding as many entries as allowed: not reading on purpose
}

var _ message.Subscriber = (*Subscriber)(nil)

// NewSubscriber builds a Subscriber over rdb.
func NewSubscriber(cfg Config, rdb redis.UniversalClient) (*Subscriber, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if rdb == nil {
		return nil, errors.New("subscriber: redis client required")
	}
	return &Subscriber{cfg: cfg, rdb: rdb, log: cfg.Logger, closing: make(chan struct{})}, nil
}

// Reading reports whether the last read from the stream succeeded within d,
// or reading waits only because as many entries as allowed are in hand (a
// slow or absent consumer is backpressure, not a fault).
func (s *Subscriber) Reading(d time.Duration) bool {
	return s.full.Load() > 0 || time.Since(time.UnixMilli(s.lastRead.Load())) < d
}

// Subscribe starts reading the stream named by topic (or Config.Stream),
// making the consumer group when missing. The channel closes when ctx ends
// or on Close; entries not acked by then stay pending in Redis.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	stream := topic
	if s.cfg.Stream != "" {
		if topic != "" && topic != s.cfg.Stream {
			return nil, fmt.Errorf("subscriber reads %s, not %s", s.cfg.Stream, topic)
		}
		stream = s.cfg.Stream
	}
	if stream == "" {
		return nil, errors.New("subscriber: topic (the stream) required")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("subscriber: closed")
	}
	s.subs.Add(1)
	s.mu.Unlock()
	if err := streams.EnsureGroup(ctx, s.rdb, stream, s.cfg.Group); err != nil {
		s.subs.Done()
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
	acks := newAcker(s.rdb, stream, s.cfg.Group, s.cfg.AckBatch, s.cfg.AckInterval, s.log)
	sch := newScheduler(s, stream, acks, out, ctx.Done())
	go acks.run()
	go func() {
		defer s.subs.Done()
		sch.run(ctx)
		acks.stop()
	}()
	return out, nil
}

// Close stops reading and handing out messages on every subscription;
// entries not acked stay pending in Redis. It waits for the acks already
// made to be written. Safe to call more than once.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.closing)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.subs.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(closeTimeout):
		return errors.New("subscriber: close timed out")
	}
}
