package ordered

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
)

// Metadata keys of the messages the subscriber emits or reads.
const (
	// MetaStreamID is set on every message: the entry's stream id.
	MetaStreamID = "stream_id"
	// MetaCommitted is set by a handler whose own commit already acked the
	// entry (XACK in its script); Ack then does not XACK it again.
	MetaCommitted = "committed"
	// MetaOrderKey is the metadata the default OrderKey reads. Messages
	// without it share the empty key: one at a time, in stream order.
	MetaOrderKey = "order_key"
)

// Defaults of Config.
const (
	DefaultBatch         = 256
	DefaultMaxInFlight   = 1024
	DefaultBlock         = 500 * time.Millisecond
	DefaultClaimInterval = 30 * time.Second
	DefaultClaimMinIdle  = 2 * time.Minute
	DefaultAckBatch      = 512
	DefaultAckInterval   = 2 * time.Millisecond
	DefaultNackDelay     = 500 * time.Millisecond
	// DefaultDrainTimeout bounds how long Close waits for messages in flight;
	// then their contexts are cancelled and they stay pending in Redis.
	DefaultDrainTimeout = 10 * time.Second
)

// Config configures the ordered subscriber.
type Config struct {
	// Stream, when set, is the only stream read: Subscribe's topic must be it
	// or empty. When empty, each Subscribe reads the stream named by its topic.
	Stream   string
	Group    string // the consumer group; made (reading from the stream's start) when missing
	Consumer string // this process' consumer name; keep it across restarts to resume its own pending entries first
	// Batch is the COUNT of one XREADGROUP.
	Batch int
	// MaxInFlight bounds the entries one subscription holds (read, not yet acked) at once.
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
	// Unmarshaller turns entries into messages; values it puts in a
	// message's context (msg.SetContext) stay readable in the context the
	// handler gets. redisstream's
	// DefaultMarshallerUnmarshaller by default. A message it gives no UUID
	// gets the entry's stream id as UUID.
	Unmarshaller redisstream.Unmarshaller
	// Gate, when set, decides before each read whether this subscription
	// may read the stream now, so that one subscription of the group at a
	// time reads it and order per key holds across processes (contract
	// docs/scaling.md). While it says no the subscription reads nothing and is asked
	// again after GatePoll (1s); what it holds is still handed out and
	// finished. Once let in, it first claims every entry pending in the
	// group — its own and other consumers' — in stream order (XAUTOCLAIM
	// with no minimum idle time), then reads new ones.
	Gate     Gate
	GatePoll time.Duration
	// Vanished names the field of the entry that stands in for one deleted
	// from the stream while pending (a producer's XTRIM or XDEL): such an
	// entry is taken off the pending list and a new entry {Vanished: its
	// id} is appended in the same atomic call, and handed out like any
	// other. Empty: such entries are only taken off the pending list, and
	// logged as an ERROR.
	Vanished string
	// OrderKey is the key whose messages are handed out one at a time, in
	// stream order; the MetaOrderKey metadata by default.
	OrderKey func(*message.Message) string
	Logger   *slog.Logger
}

// Gate lets one subscription of a consumer group at a time read a stream
// (Config.Gate).
type Gate interface {
	// Read reports whether the subscription may read stream now; held is
	// how many of its entries it holds (read, not yet acked), so that a
	// gate taking a stream away can wait until none is left.
	Read(ctx context.Context, stream string, held int) bool
	// Kept reports, after a read that brought entries, whether the
	// subscription may still hand them out: it may have lost the stream
	// while the read was under way (a long pause). When it has not, the
	// subscription drops those entries and every one it has not handed
	// out yet (the stream's new reader claims them, in order) and stops
	// touching what it holds.
	Kept(ctx context.Context, stream string) bool
}

func (c *Config) setDefaults() {
	if c.GatePoll <= 0 {
		c.GatePoll = time.Second
	}
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
		c.Unmarshaller = redisstream.DefaultMarshallerUnmarshaller{}
	}
	if c.OrderKey == nil {
		c.OrderKey = func(m *message.Message) string { return m.Metadata.Get(MetaOrderKey) }
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a missing name.
func (c Config) Validate() error {
	switch {
	case c.Group == "":
		return errors.New("subscriber: group required")
	case c.Consumer == "":
		return errors.New("subscriber: consumer required")
	}
	return nil
}
