package layout

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/idmap"
	"github.com/streamsync/streamsync/internal/testenv"
)

// The store keeps a record's entry in its account's shard, as the ledger
// does: Begin writes there, GetIn reads there, Get and the operators'
// Raw, Set and Drop look in every shard unless an account is named.
func TestIDMapStoreShards(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	shards := NewShards(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry", 3, true)
	s := NewIDMapStore(rdb, shards)
	ctx := context.Background()
	a, b := "acc-1", "acc-2"
	for ShardOf(b, 3) == ShardOf(a, 3) {
		b += "x"
	}
	now := time.UnixMilli(1_700_000_000_000)

	e := event.Event{ID: "e-1", Account: a, Entity: "contact", Key: "k", Op: event.OpUpsert, Version: 1}
	if p, err := s.Begin(ctx, e, now, time.Minute); err != nil || p.Action != idmap.Create {
		t.Fatalf("Begin: %+v %v", p, err)
	}
	if n := rdb.HLen(ctx, shards.For(a).IDMap("contact")).Val(); n != 1 {
		t.Fatalf("the account's shard holds %d entries", n)
	}
	// A create in flight is no id.
	if id, err := s.Get(ctx, "contact", "k"); err != nil || id != "" {
		t.Fatalf("Get during the create: %q %v", id, err)
	}
	got, err := s.Raw(ctx, "contact", "k", "")
	if err != nil || len(got) != 1 || got[0].Shard != ShardOf(a, 3) || got[0].Kind != idmap.KindCreating || got[0].EventID != "e-1" {
		t.Fatalf("Raw: %+v %v", got, err)
	}

	// Set without an account changes the one shard that has an entry.
	before, after, err := s.Set(ctx, "contact", "k", "", "P-1")
	if err != nil || before == nil || before.Kind != idmap.KindCreating || after.ID != "P-1" || after.Shard != ShardOf(a, 3) {
		t.Fatalf("Set: %+v %+v %v", before, after, err)
	}
	for _, get := range []func() (string, error){
		func() (string, error) { return s.Get(ctx, "contact", "k") },
		func() (string, error) { return s.GetIn(ctx, a, "contact", "k") },
	} {
		if id, err := get(); err != nil || id != "P-1" {
			t.Fatalf("get: %q %v", id, err)
		}
	}
	if id, err := s.GetIn(ctx, b, "contact", "k"); err != nil || id != "" {
		t.Fatalf("GetIn of another account: %q %v", id, err)
	}
	// A record unknown to every shard needs the account to be made.
	if _, _, err := s.Set(ctx, "contact", "new", "", "P-2"); !errors.Is(err, ErrNoIDMapEntry) {
		t.Fatalf("Set of an unknown record without an account: %v", err)
	}
	if _, _, err := s.Set(ctx, "contact", "new", b, "P-2"); err != nil || rdb.HGet(ctx, shards.For(b).IDMap("contact"), "new").Val() != "i|P-2" {
		t.Fatalf("Set with an account: %v", err)
	}
	// The same key in two accounts' shards with different ids.
	if _, _, err := s.Set(ctx, "contact", "k", b, "P-3"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "contact", "k"); !errors.Is(err, ErrIDMapAmbiguous) {
		t.Fatalf("Get of a key in two shards: %v", err)
	}
	if _, err := s.Drop(ctx, "contact", "k", ""); !errors.Is(err, ErrIDMapAmbiguous) {
		t.Fatalf("Drop of a key in two shards: %v", err)
	}
	gone, err := s.Drop(ctx, "contact", "k", b)
	if err != nil || gone.ID != "P-3" || gone.Shard != ShardOf(b, 3) {
		t.Fatalf("Drop: %+v %v", gone, err)
	}
	if id, err := s.Get(ctx, "contact", "k"); err != nil || id != "P-1" {
		t.Fatalf("Get after the drop: %q %v", id, err)
	}
	if _, err := s.Drop(ctx, "contact", "k", b); !errors.Is(err, ErrNoIDMapEntry) {
		t.Fatalf("Drop of nothing: %v", err)
	}
	// An entry it cannot read is shown as stored, with why.
	rdb.HSet(ctx, shards.For(a).IDMap("contact"), "bad", "zz")
	if got, err := s.Raw(ctx, "contact", "bad", a); err != nil || len(got) != 1 || got[0].Value != "zz" || got[0].Error == "" {
		t.Fatalf("Raw of an unreadable entry: %+v %v", got, err)
	}
}
