package pipeline

import (
	"context"
	"testing"

	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
)

// An operator mends a ledger pushed too high with LedgerOps (`streamsync
// ledger set|drop`): set lowers the version and keeps the content, drop
// forgets the record; either way the next event reaches the partner. The
// ledger is per shard: an account names the shard, none searches them all.
func TestLedgerOpsMendALedgerTooHigh(t *testing.T) {
	h := newHarness(t, options{shards: 3})
	ctx := context.Background()
	ops := LedgerOps{RDB: h.rdb, Shards: h.shards}
	k := h.shards.For("acc")
	push := func() {
		h.rdb.HSet(ctx, k.Ledger("main"), "k", handlers.Ledger{Found: true, Version: maxVersion, Hash: "h", EventID: "forged"}.String())
	}
	h.upsert("e1", "acc", "main", "k", 5, `{"v":1}`)
	h.waitSteps("e1", "delivered")
	push()
	h.upsert("e2", "acc", "main", "k", 6, `{"v":2}`)
	h.waitSteps("e2", "skipped_stale")

	got, err := ops.Get(ctx, "main", "k", "")
	if err != nil || len(got) != 1 || got[0].Shard != layout.ShardOf("acc", 3) || got[0].Version != maxVersion {
		t.Fatalf("get without an account: %+v %v", got, err)
	}
	before, after, err := ops.Set(ctx, "main", "k", "", 6)
	if err != nil || before == nil || before.Version != maxVersion || after.Version != 6 || after.Hash != "h" || after.EventID != "forged" {
		t.Fatalf("set: %+v %+v %v", before, after, err)
	}
	h.upsert("e3", "acc", "main", "k", 7, `{"v":3}`)
	h.waitSteps("e3", "delivered")

	push()
	gone, err := ops.Drop(ctx, "main", "k", "acc")
	if err != nil || gone.Version != maxVersion {
		t.Fatalf("drop: %+v %v", gone, err)
	}
	if got, _ := ops.Get(ctx, "main", "k", "acc"); len(got) != 0 {
		t.Fatalf("after drop: %+v", got)
	}
	h.upsert("e4", "acc", "main", "k", 8, `{"v":4}`)
	h.waitSteps("e4", "delivered")
	if v := h.partnerVersion("main", "k"); v != 8 {
		t.Fatalf("partner has %d, want 8", v)
	}
}
