package ordered

import (
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/testenv"
)

// The subscriber passes Watermill's universal Pub/Sub test suite against
// real Redis, with watermill-redisstream's publisher and default marshaller,
// as a drop-in for redisstream's subscriber. The suite's short set runs
// (ForceShort): its long set is thousands of messages per test.
func TestUniversalPubSub(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Redis")
	}
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })

	// Clients of their own: redisstream's publisher closes its client on
	// Close, and the suite closes publishers before subscribers.
	constructor := func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
		pubClient := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
		rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
		t.Cleanup(func() { _ = rdb.Close() })
		pub, err := redisstream.NewPublisher(redisstream.PublisherConfig{Client: pubClient}, watermill.NopLogger{})
		if err != nil {
			t.Fatal(err)
		}
		// A short DrainTimeout: the suite closes subscribers that hold
		// messages nobody will ack, and each Close waits that long.
		sub, err := NewSubscriber(Config{Group: group, Consumer: watermill.NewShortUUID(),
			Block: 10 * time.Millisecond, NackDelay: 10 * time.Millisecond, DrainTimeout: 200 * time.Millisecond,
			ClaimInterval: 3 * time.Second, ClaimMinIdle: 5 * time.Second}, rdb)
		if err != nil {
			t.Fatal(err)
		}
		return pub, sub
	}
	features := tests.Features{
		// Each group gets every entry; the consumers of one group share them.
		ConsumerGroups: true,
		// Entries are acked after the handler's verdict: a crash between the
		// two hands the entry out again (at least once).
		ExactlyOnceDelivery: false,
		// Order holds per order key, one message of a key in flight at a
		// time. The suite's messages carry no order key, so they share one
		// and come one at a time in stream order (TestNoAck holds) — but only
		// within one consumer: the consumers of a group split the stream.
		GuaranteedOrder:                     true,
		GuaranteedOrderWithSingleSubscriber: true,
		// Entries stay in the stream until acked, across subscriber restarts.
		Persistent: true,
		// A consumer group made for a new subscriber reads the stream from
		// its start (XGROUP CREATE … 0), like redisstream's.
		NewSubscriberReceivesOldMessages: true,
		// Watermill's message context is not carried through Redis.
		ContextPreserved: false,
		ForceShort:       true,
		GenerateTopicFunc: func(tctx tests.TestContext) string {
			return prefix + string(tctx.TestID)
		},
	}
	tests.TestPubSub(t, features,
		func(t *testing.T) (message.Publisher, message.Subscriber) {
			return constructor(t, watermill.NewShortUUID())
		},
		constructor)
}
