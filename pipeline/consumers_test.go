package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/streams"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/pipeline/ordered"
)

// metaUnmarshaller makes a message whose metadata are the entry's fields.
type metaUnmarshaller struct{}

func (metaUnmarshaller) Unmarshal(values map[string]any) (*message.Message, error) {
	msg := message.NewMessage("", nil)
	for k, v := range values {
		msg.Metadata.Set(k, v.(string))
	}
	return msg, nil
}

func consumersOf(t *testing.T, rdb *redis.Client, stream, group string) map[string]int64 {
	t.Helper()
	cs, err := rdb.XInfoConsumers(context.Background(), stream, group).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, c := range cs {
		out[c.Name] = c.Pending
	}
	return out
}

// A consumer is deleted only once it owns nothing pending: of two consumers
// of processes long gone, the one that acked what it read is deleted, the
// one a crash left with three pending entries is kept however idle it is;
// a live consumer claims those entries and they are delivered, and then the
// crashed one goes too. XGROUP DELCONSUMER on it would have dropped its
// entries from the pending list, where nobody claims them.
func TestIdleConsumerDeletedOnlyWithNothingPending(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Redis")
	}
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	ctx := context.Background()
	stream, group := prefix+"events", "g"
	if err := streams.EnsureGroup(ctx, rdb, stream, group); err != nil {
		t.Fatal(err)
	}
	for _, acc := range []string{"a", "b", "c", "d", "e"} {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"account", acc, ordered.MetaOrderKey, acc}})
	}
	if _, err := streams.ReadGroup(ctx, rdb, stream, group, "crashed", ">", 3, -1); err != nil {
		t.Fatal(err)
	}
	stopped, err := streams.ReadGroup(ctx, rdb, stream, group, "stopped", ">", 2, -1)
	if err != nil || len(stopped) != 2 {
		t.Fatalf("read %d (%v)", len(stopped), err)
	}
	rdb.XAck(ctx, stream, group, stopped[0].ID, stopped[1].ID)

	tr, err := NewTrimmer(TrimConfig{Stream: stream, ForgetIdle: time.Millisecond}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "the stopped consumer deleted", func() bool {
		if _, err := tr.ForgetConsumers(ctx); err != nil {
			t.Fatal(err)
		}
		_, there := consumersOf(t, rdb, stream, group)["stopped"]
		return !there
	})
	if got := consumersOf(t, rdb, stream, group); got["crashed"] != 3 {
		t.Fatalf("consumers after deleting the idle ones: %v; want crashed kept with 3 pending", got)
	}

	sub, err := ordered.NewSubscriber(ordered.Config{Stream: stream, Group: group, Consumer: "alive",
		Block: 20 * time.Millisecond, ClaimInterval: 20 * time.Millisecond, ClaimMinIdle: time.Millisecond,
		Unmarshaller: metaUnmarshaller{}}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	msgs, err := sub.Subscribe(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for len(got) < 3 {
		select {
		case m := <-msgs:
			got[m.Metadata.Get("account")] = true
			m.Ack()
		case <-time.After(10 * time.Second):
			t.Fatalf("delivered %v of the crashed consumer's a, b, c", got)
		}
	}
	if !got["a"] || !got["b"] || !got["c"] {
		t.Fatalf("delivered %v, want a, b and c", got)
	}
	testenv.WaitFor(t, 5*time.Second, "the crashed consumer deleted once its entries were claimed and acked", func() bool {
		if _, err := tr.ForgetConsumers(ctx); err != nil {
			t.Fatal(err)
		}
		_, there := consumersOf(t, rdb, stream, group)["crashed"]
		return !there
	})
}
