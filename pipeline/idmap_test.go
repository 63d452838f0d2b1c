package pipeline

import (
	"context"
	"testing"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/internal/idmap"
)

// idSender is a sender of a partner that assigns ids: a delivered upsert
// answers the partner's id "P-<key>", a delivered delete that the record
// is gone.
type idSender struct{ next handlers.Sender }

func (s idSender) Send(ctx context.Context, e event.Event) delivery.Answer {
	a := s.next.Send(ctx, e)
	if a.Class == delivery.Delivered {
		a.IDMap = idmap.Write{Op: idmap.WriteSet, ID: "P-" + e.Key}
		if e.Op == event.OpDelete {
			a.IDMap = idmap.Write{Op: idmap.WriteGone}
		}
	}
	return a
}

// The id map write of a delivered answer is committed with the delivery,
// in the record's account's shard.
func TestCommitWritesTheIDMap(t *testing.T) {
	h := newHarness(t, options{shards: 2})
	h.stop()
	h.sender = idSender{next: h.sender}
	p, err := New(h.p.cfg, h.rdb, h.sender)
	if err != nil {
		t.Fatal(err)
	}
	h.p = p
	h.run()
	ctx := context.Background()
	entry := func(account, key string) string {
		return h.rdb.HGet(ctx, h.shards.For(account).IDMap("contact"), key).Val()
	}
	h.upsert("e1", "acc-1", "contact", "c1", 1, `{"n":1}`)
	h.waitSteps("e1", "delivered")
	if v := entry("acc-1", "c1"); v != "i|P-c1" {
		t.Fatalf("id map after the create: %q", v)
	}
	h.xadd("id", "e2", "account", "acc-1", "entity", "contact", "key", "c1", "op", "delete", "version", "2")
	h.waitSteps("e2", "delivered")
	if v := entry("acc-1", "c1"); v != "g|2" {
		t.Fatalf("id map after the delete: %q", v)
	}
}
