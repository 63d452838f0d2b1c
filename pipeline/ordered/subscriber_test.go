package ordered

import (
	"context"
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
	sub, err := NewSubscriber(Config{Stream: stream, Group: "g", Consumer: "c", MaxInFlight: 2, Block: 20 * time.Millisecond,
		Unmarshaller: fieldsUnmarshaller{}}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := sub.Subscribe(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
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
