package ordered

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/testenv"
)

// One message per order key in flight, keys in parallel: while a's first
// message is out, b's comes, a's second does not; after the ack it does,
// and a nacked message comes again before anything behind it. Each
// message's context ends with its verdict.
func TestOneInFlightPerKey(t *testing.T) {
	rdb := testenv.Redis(t)
	stream := testenv.Prefix(t) + "events"
	ctx := context.Background()
	t.Cleanup(func() { rdb.Del(ctx, stream) })
	for _, kv := range [][2]string{{"a", "a1"}, {"a", "a2"}, {"b", "b1"}} {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{MetaOrderKey, kv[0], "id", kv[1]}})
	}
	sub, err := NewSubscriber(Config{Group: "g", Consumer: "c", Block: 20 * time.Millisecond, NackDelay: 10 * time.Millisecond,
		Unmarshaller: fieldsUnmarshaller{}}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := sub.Subscribe(ctx, stream) // the topic is the stream
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	next := func() *message.Message {
		t.Helper()
		select {
		case m := <-msgs:
			return m
		case <-time.After(5 * time.Second):
			t.Fatal("no message")
			return nil
		}
	}
	a1, b1 := next(), next()
	if a1.Metadata.Get("id") != "a1" || b1.Metadata.Get("id") != "b1" {
		t.Fatalf("got %s, %s; want a1, b1", a1.Metadata.Get("id"), b1.Metadata.Get("id"))
	}
	if a1.Metadata.Get(MetaStreamID) == "" || a1.UUID != a1.Metadata.Get(MetaStreamID) {
		t.Fatalf("uuid %q, stream id %q", a1.UUID, a1.Metadata.Get(MetaStreamID))
	}
	select {
	case m := <-msgs:
		t.Fatalf("%s handed out while a1 is in flight", m.Metadata.Get("id"))
	case <-time.After(100 * time.Millisecond):
	}
	b1.Ack()
	a1.Nack()
	<-a1.Context().Done()
	if again := next(); again.Metadata.Get("id") != "a1" {
		t.Fatalf("after a nack got %s, want a1 again", again.Metadata.Get("id"))
	} else {
		again.Ack()
	}
	if a2 := next(); a2.Metadata.Get("id") != "a2" {
		t.Fatalf("got %s, want a2", a2.Metadata.Get("id"))
	} else {
		a2.Ack()
	}
	testenv.WaitFor(t, 5*time.Second, "every entry acked", func() bool {
		p, err := rdb.XPending(ctx, stream, "g").Result()
		return err == nil && p.Count == 0
	})
}
