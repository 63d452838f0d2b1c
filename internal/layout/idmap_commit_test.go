package layout

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/idmap"
	"github.com/streamsync/streamsync/internal/streams"
)

// pendingEntry adds an entry to k's events stream and reads it into the
// group, so that a commit's ack is its first.
func pendingEntry(t *testing.T, rdb *redis.Client, k Keys) string {
	t.Helper()
	ctx := context.Background()
	if err := streams.EnsureGroup(ctx, rdb, k.Events, k.Group); err != nil {
		t.Fatal(err)
	}
	id := rdb.XAdd(ctx, &redis.XAddArgs{Stream: k.Events, Values: []any{"i", 1}}).Val()
	if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: k.Group, Consumer: "c", Streams: []string{k.Events, ">"}, Count: 100}).Err(); err != nil {
		t.Fatal(err)
	}
	return id
}

// The commit records the partner's id (or that the record is gone) in the
// id map in the call that acks the entry and writes the ledger; a second
// commit of the same entry writes nothing.
func TestCommitRecordsIDMap(t *testing.T) {
	rdb, k := idmapKeys(t)
	ctx := context.Background()
	trips := NewRoundTrips(rdb)
	now := time.UnixMilli(1_700_000_000_000)
	commit := func(sid string, e event.Event, w idmap.Write) int64 {
		t.Helper()
		n, err := trips.Commit(ctx, k, Commit{Event: e, StreamID: sid, Now: now, Step: handlers.StepDelivered,
			Ledger: "set", LedgerValue: handlers.LedgerWithHash(e, "h").String(), State: "clear_any", WaitOnParent: "0",
			LeaseHolder: "run", IDMap: w})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	entry := func() string { return rdb.HGet(ctx, k.IDMap("contact"), "r 1").Val() }

	// A create committed: the id, with the ledger and the ack.
	create := idmapEvent("e-1", event.OpUpsert, 5)
	if _, err := IDMapBegin(ctx, rdb, k, create, now, time.Minute); err != nil {
		t.Fatal(err)
	}
	sid := pendingEntry(t, rdb, k)
	if n := commit(sid, create, idmap.Write{Op: idmap.WriteSet, ID: "P-1"}); n != 1 || entry() != "i|P-1" {
		t.Fatalf("commit answered %d, id map %q", n, entry())
	}
	if l := handlers.ParseLedger(rdb.HGet(ctx, k.Ledger("contact"), "r 1").Val()); l.Version != 5 {
		t.Fatalf("ledger %+v", l)
	}
	// The same entry committed again (another process claimed it): nothing
	// is written, the id is not overwritten.
	if n := commit(sid, create, idmap.Write{Op: idmap.WriteSet, ID: "P-other"}); n != 0 || entry() != "i|P-1" {
		t.Fatalf("second commit answered %d, id map %q", n, entry())
	}

	// A delete delivered by the id: gone at its version.
	del := idmapEvent("e-2", event.OpDelete, 7)
	if n := commit(pendingEntry(t, rdb, k), del, idmap.Write{Op: idmap.WriteGone}); n != 1 || entry() != "g|7" {
		t.Fatalf("delete commit answered %d, id map %q", n, entry())
	}
	// A gone of a lower version keeps the higher one.
	if n := commit(pendingEntry(t, rdb, k), idmapEvent("e-3", event.OpDelete, 6), idmap.Write{Op: idmap.WriteGone}); n != 1 || entry() != "g|7" {
		t.Fatalf("lower gone: answered %d, id map %q", n, entry())
	}
	if n := commit(pendingEntry(t, rdb, k), idmapEvent("e-4", event.OpDelete, 12), idmap.Write{Op: idmap.WriteGone}); n != 1 || entry() != "g|12" {
		t.Fatalf("higher gone: answered %d, id map %q", n, entry())
	}
	// An outcome with no id map write leaves it as it is.
	if n := commit(pendingEntry(t, rdb, k), idmapEvent("e-5", event.OpUpsert, 13), idmap.Write{}); n != 1 || entry() != "g|12" {
		t.Fatalf("no write: answered %d, id map %q", n, entry())
	}

	// Arguments that do not fit are refused before the ack.
	sid = pendingEntry(t, rdb, k)
	_, err := trips.Commit(ctx, k, Commit{Event: create, StreamID: sid, Now: now, Step: handlers.StepDelivered,
		Ledger: "none", State: "keep", WaitOnParent: "0", IDMap: idmap.Write{Op: idmap.WriteSet}})
	if err == nil || !strings.Contains(err.Error(), "does not fit mode set") {
		t.Fatalf("a set with no id: %v", err)
	}
	if p, _ := rdb.XPending(ctx, k.Events, k.Group).Result(); p.Count != 1 {
		t.Fatalf("%d pending; the refused outcome's entry must stay pending", p.Count)
	}
}
