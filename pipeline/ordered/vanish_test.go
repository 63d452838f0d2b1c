package ordered

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/testenv"
)

// A consumer restarted under its name reads its own pending entries first;
// one deleted from the stream meanwhile (XDEL) is handed on as a new entry
// whose Vanished field names it, and nothing stays pending.
func TestOwnPendingEntryDeletedIsHandedOnAsAnEntryNamingIt(t *testing.T) {
	rdb := testenv.Redis(t)
	stream := testenv.Prefix(t) + "events"
	ctx := context.Background()
	t.Cleanup(func() { rdb.Del(ctx, stream) })
	if err := rdb.XGroupCreateMkStream(ctx, stream, "g", "0").Err(); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range []string{"a", "b", "c"} {
		ids = append(ids, rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"id", k, MetaOrderKey, k}}).Val())
	}
	// A former life of consumer c read all three, then b was deleted.
	if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c", Streams: []string{stream, ">"}, Count: 3}).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.XDel(ctx, stream, ids[1])
	_, msgs := subscribe(t, rdb, Config{Stream: stream, Group: "g", Consumer: "c", Block: 20 * time.Millisecond,
		Unmarshaller: fieldsUnmarshaller{}, Vanished: "gone"})
	got := map[string]string{}
	for range 3 {
		select {
		case m := <-msgs:
			got[m.Metadata.Get("id")+m.Metadata.Get("gone")] = m.Metadata.Get(MetaStreamID)
			m.Ack()
		case <-time.After(10 * time.Second):
			t.Fatalf("messages so far %v", got)
		}
	}
	if got["a"] != ids[0] || got["c"] != ids[2] || got[ids[1]] == "" || got[ids[1]] == ids[1] {
		t.Fatalf("messages %v; want a, c, and a new entry naming %s", got, ids[1])
	}
	testenv.WaitFor(t, 5*time.Second, "nothing pending", func() bool {
		p, err := rdb.XPending(ctx, stream, "g").Result()
		return err == nil && p.Count == 0
	})
}
