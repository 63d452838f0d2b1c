package ordered

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/testenv"
)

// fieldsUnmarshaller makes a message whose metadata are the entry's fields.
type fieldsUnmarshaller struct{}

func (fieldsUnmarshaller) Unmarshal(values map[string]any) (*message.Message, error) {
	msg := message.NewMessage("", nil)
	for k, v := range values {
		msg.Metadata.Set(k, v.(string))
	}
	return msg, nil
}

// subscribe makes a subscriber with cfg and subscribes to its stream; both
// end with the test.
func subscribe(t *testing.T, rdb redis.UniversalClient, cfg Config) (*Subscriber, <-chan *message.Message) {
	t.Helper()
	sub, err := NewSubscriber(cfg, rdb)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := sub.Subscribe(context.Background(), cfg.Stream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return sub, msgs
}

// Holding as many entries as allowed is backpressure, not a fault: the
// subscriber still counts as reading (so /readyz stays 200 through a long
// partner outage), and reads again once entries are acked.
func TestBackpressureCountsAsReading(t *testing.T) {
	rdb := testenv.Redis(t)
	stream := testenv.Prefix(t) + "events"
	ctx := context.Background()
	t.Cleanup(func() { rdb.Del(ctx, stream) })
	for _, acc := range []string{"a", "b", "c"} {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"id", acc, MetaOrderKey, acc}})
	}
	sub, msgs := subscribe(t, rdb, Config{Stream: stream, Group: "g", Consumer: "c", MaxInFlight: 2, Block: 20 * time.Millisecond,
		Unmarshaller: fieldsUnmarshaller{}})
	m1, m2 := <-msgs, <-msgs
	testenv.WaitFor(t, 5*time.Second, "reading counted while full", func() bool { return sub.Reading(time.Nanosecond) })
	m1.Ack()
	m2.Ack()
	m3 := <-msgs // the third key's entry, read once there was room
	if m3.Metadata.Get(MetaOrderKey) != "c" {
		t.Fatalf("third message is %v", m3.Metadata)
	}
	m3.Ack()
	testenv.WaitFor(t, 5*time.Second, "not full any more", func() bool { return !sub.Reading(time.Nanosecond) })
}

// switchGate lets a subscription read once opened.
type switchGate struct{ open atomic.Bool }

func (g *switchGate) Read(context.Context, string, int) bool { return g.open.Load() }
func (g *switchGate) Kept(context.Context, string) bool      { return g.open.Load() }

// A subscription behind a closed gate reads nothing (and still counts as
// reading: standing by is not a fault); once let in, it first takes over the
// entries another consumer left pending, in stream order, then reads new
// ones.
func TestGateTakesOverPendingEntriesInOrder(t *testing.T) {
	rdb := testenv.Redis(t)
	stream := testenv.Prefix(t) + "events"
	ctx := context.Background()
	t.Cleanup(func() { rdb.Del(ctx, stream) })
	for i := range 6 {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"n", strconv.Itoa(i), MetaOrderKey, "k"}})
	}
	// A consumer that died holding the first four entries.
	rdb.XGroupCreate(ctx, stream, "g", "0")
	if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "dead", Streams: []string{stream, ">"}, Count: 4}).Err(); err != nil {
		t.Fatal(err)
	}
	gate := &switchGate{}
	sub, msgs := subscribe(t, rdb, Config{Stream: stream, Group: "g", Consumer: "c", Batch: 2, Block: 20 * time.Millisecond,
		Gate: gate, GatePoll: 10 * time.Millisecond, Unmarshaller: fieldsUnmarshaller{}})
	select {
	case m := <-msgs:
		t.Fatalf("read %v behind a closed gate", m.Metadata)
	case <-time.After(100 * time.Millisecond):
	}
	if !sub.Reading(time.Second) {
		t.Fatal("a subscription standing by does not count as reading")
	}
	gate.open.Store(true)
	for i := range 6 {
		select {
		case m := <-msgs:
			if got := m.Metadata.Get("n"); got != strconv.Itoa(i) {
				t.Fatalf("message %d is entry %s: not in stream order", i, got)
			}
			m.Ack()
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d never came", i)
		}
	}
	testenv.WaitFor(t, 5*time.Second, "every entry acked", func() bool {
		p, err := rdb.XPending(ctx, stream, "g").Result()
		return err == nil && p.Count == 0
	})
}

// lostGate lets a subscription read, but says the stream was lost by the
// time each read came back (a process paused past its lease).
type lostGate struct{}

func (lostGate) Read(context.Context, string, int) bool { return true }
func (lostGate) Kept(context.Context, string) bool      { return false }

// Entries read after the stream was lost are not handed out: they stay
// pending in the group for the stream's new reader.
func TestEntriesReadAfterLosingTheStreamAreLeft(t *testing.T) {
	rdb := testenv.Redis(t)
	stream := testenv.Prefix(t) + "events"
	ctx := context.Background()
	t.Cleanup(func() { rdb.Del(ctx, stream) })
	for i := range 3 {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"n", strconv.Itoa(i), MetaOrderKey, "k"}})
	}
	_, msgs := subscribe(t, rdb, Config{Stream: stream, Group: "g", Consumer: "c", Block: 20 * time.Millisecond,
		Gate: lostGate{}, GatePoll: 10 * time.Millisecond, Unmarshaller: fieldsUnmarshaller{}})
	testenv.WaitFor(t, 5*time.Second, "the entries read", func() bool {
		p, err := rdb.XPending(ctx, stream, "g").Result()
		return err == nil && p.Count == 3
	})
	select {
	case m := <-msgs:
		t.Fatalf("handed out %v after the stream was lost", m.Metadata)
	case <-time.After(200 * time.Millisecond):
	}
}
