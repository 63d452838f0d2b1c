package layout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/idmap"
	"github.com/streamsync/streamsync/internal/testenv"
)

func idmapKeys(t *testing.T) (*redis.Client, Keys) {
	t.Helper()
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	return rdb, NewKeys(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry")
}

func idmapEvent(id string, op event.Op, version int64) event.Event {
	return event.Event{ID: id, Account: "acc-1", Entity: "contact", Key: "r 1", Op: op, Version: version}
}

// Every branch of Begin: what it decides, and what the entry holds after.
func TestIDMapBegin(t *testing.T) {
	rdb, k := idmapKeys(t)
	ctx := context.Background()
	now := time.UnixMilli(1_700_000_000_000)
	const hold = 30 * time.Second
	held := func(version int64, id string) string {
		return fmt.Sprintf("c|%d|%d|%s", now.Add(hold).UnixMilli(), version, id)
	}
	alive := fmt.Sprintf("c|%d|3|e-other", now.Add(5*time.Second).UnixMilli())
	expired := fmt.Sprintf("c|%d|3|e-other", now.UnixMilli()) // until = now: expired
	for _, tc := range []struct {
		name   string
		entry  string // "" none
		op     event.Op
		ver    int64
		want   idmap.Plan
		stored string // the entry after
	}{
		{"upsert, id", "i|P-9", event.OpUpsert, 5, idmap.Plan{Action: idmap.Update, ID: "P-9"}, "i|P-9"},
		{"upsert, id with a bar", "i|a|b", event.OpUpsert, 5, idmap.Plan{Action: idmap.Update, ID: "a|b"}, "i|a|b"},
		{"upsert, gone at a higher version", "g|7", event.OpUpsert, 5, idmap.Plan{Action: idmap.Stale}, "g|7"},
		{"upsert, gone at its version", "g|5", event.OpUpsert, 5, idmap.Plan{Action: idmap.Stale}, "g|5"},
		{"upsert, gone at a lower version", "g|4", event.OpUpsert, 5, idmap.Plan{Action: idmap.FindThenCreate}, held(5, "e-1")},
		{"upsert, gone at a longer version", "g|10000000000000000", event.OpUpsert, 9000000000000000, idmap.Plan{Action: idmap.Stale}, "g|10000000000000000"},
		{"upsert, none", "", event.OpUpsert, 5, idmap.Plan{Action: idmap.Create}, held(5, "e-1")},
		{"upsert, another's create in flight", alive, event.OpUpsert, 5, idmap.Plan{Action: idmap.Wait, Wait: 5 * time.Second}, alive},
		{"upsert, its own create retried", fmt.Sprintf("c|%d|5|e-1", now.Add(time.Second).UnixMilli()), event.OpUpsert, 5,
			idmap.Plan{Action: idmap.FindThenCreate}, held(5, "e-1")},
		{"upsert, another's create never committed", expired, event.OpUpsert, 5, idmap.Plan{Action: idmap.FindThenCreate}, held(5, "e-1")},
		{"delete, id", "i|P-9", event.OpDelete, 5, idmap.Plan{Action: idmap.Update, ID: "P-9"}, "i|P-9"},
		{"delete, a create in flight", alive, event.OpDelete, 5, idmap.Plan{Action: idmap.Wait, Wait: 5 * time.Second}, alive},
		{"delete, a create never committed", expired, event.OpDelete, 5, idmap.Plan{Action: idmap.FindThenDelete}, expired},
		{"delete, none", "", event.OpDelete, 5, idmap.Plan{Action: idmap.Nothing}, "g|5"},
		{"delete, gone lower", "g|4", event.OpDelete, 5, idmap.Plan{Action: idmap.Nothing}, "g|5"},
		{"delete, gone higher", "g|8", event.OpDelete, 5, idmap.Plan{Action: idmap.Nothing}, "g|8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb.Del(ctx, k.IDMap("contact"))
			if tc.entry != "" {
				rdb.HSet(ctx, k.IDMap("contact"), "r 1", tc.entry)
			}
			got, err := IDMapBegin(ctx, rdb, k, idmapEvent("e-1", tc.op, tc.ver), now, hold)
			if err != nil || got != tc.want {
				t.Fatalf("Begin: %+v, %v; want %+v", got, err, tc.want)
			}
			if v := rdb.HGet(ctx, k.IDMap("contact"), "r 1").Val(); v != tc.stored {
				t.Fatalf("entry %q, want %q", v, tc.stored)
			}
		})
	}

	// What it cannot read it does not guess at, and writes nothing.
	for _, bad := range []string{"x|1", "i|", "c|soon|1|e", "g|-1", "g|"} {
		rdb.HSet(ctx, k.IDMap("contact"), "r 1", bad)
		if _, err := IDMapBegin(ctx, rdb, k, idmapEvent("e-1", event.OpDelete, 5), now, hold); !errors.Is(err, idmap.ErrUnreadable) {
			t.Errorf("entry %q: %v, want ErrUnreadable", bad, err)
		}
		if v := rdb.HGet(ctx, k.IDMap("contact"), "r 1").Val(); v != bad {
			t.Errorf("entry %q became %q", bad, v)
		}
	}
	for _, e := range []event.Event{idmapEvent("e-1", event.OpSync, 0)} {
		if _, err := IDMapBegin(ctx, rdb, k, e, now, hold); err == nil {
			t.Errorf("op %s: no error", e.Op)
		}
	}
	if _, err := IDMapBegin(ctx, rdb, k, idmapEvent("e-1", event.OpUpsert, 1), now, 0); err == nil {
		t.Error("hold 0: no error")
	}
}

// A create and a delete of one record begun at the same time by two
// processes, in either order and with the create's hold run out: a create
// is never sent once a delete has decided there was nothing to delete.
func TestIDMapCreateRacingDelete(t *testing.T) {
	_, k := idmapKeys(t)
	ctx := context.Background()
	// two processes: two clients
	procs := [2]*redis.Client{testenv.Redis(t), testenv.Redis(t)}
	now := time.UnixMilli(1_700_000_000_000)
	for _, tc := range []struct {
		name string
		// the delete's clock against the create's: past the hold or not
		deleteAt time.Duration
		hold     time.Duration
	}{
		{"hold alive", time.Millisecond, time.Minute},
		{"hold run out", time.Minute, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]int{}
			for i := range 200 {
				key := tc.name + "-" + strconv.Itoa(i)
				create := event.Event{ID: "c-" + key, Account: "a", Entity: "contact", Key: key, Op: event.OpUpsert, Version: 1}
				del := event.Event{ID: "d-" + key, Account: "a", Entity: "contact", Key: key, Op: event.OpDelete, Version: 2}
				var cp, dp idmap.Plan
				var cerr, derr error
				var wg sync.WaitGroup
				start := make(chan struct{})
				wg.Add(2)
				go func() {
					defer wg.Done()
					<-start
					cp, cerr = IDMapBegin(ctx, procs[i%2], k, create, now, tc.hold)
				}()
				go func() {
					defer wg.Done()
					<-start
					dp, derr = IDMapBegin(ctx, procs[1-i%2], k, del, now.Add(tc.deleteAt), tc.hold)
				}()
				close(start)
				wg.Wait()
				if cerr != nil || derr != nil {
					t.Fatal(cerr, derr)
				}
				sent := cp.Action == idmap.Create || cp.Action == idmap.FindThenCreate
				if dp.Action == idmap.Nothing && sent {
					t.Fatalf("%s: the delete decided nothing and the create is sent (%v)", key, cp.Action)
				}
				// Whichever came first, the other sees it: a delete after the
				// create waits for it (or, its hold run out, looks the record
				// up); a create after the delete is stale.
				switch {
				case cp.Action == idmap.Create && dp.Action == idmap.Wait && tc.hold == time.Minute:
				case cp.Action == idmap.Create && dp.Action == idmap.FindThenDelete && tc.hold == time.Second:
				case cp.Action == idmap.Stale && dp.Action == idmap.Nothing:
				default:
					t.Fatalf("%s: create %v, delete %v", key, cp.Action, dp.Action)
				}
				seen[cp.Action.String()+"/"+dp.Action.String()]++
			}
			t.Logf("create/delete decisions over 200 races: %v", seen)
		})
	}
	// Both orders, one after the other.
	t.Run("delete first", func(t *testing.T) {
		del := event.Event{ID: "d", Account: "a", Entity: "contact", Key: "seq-1", Op: event.OpDelete, Version: 2}
		create := event.Event{ID: "c", Account: "a", Entity: "contact", Key: "seq-1", Op: event.OpUpsert, Version: 1}
		if p, _ := IDMapBegin(ctx, procs[0], k, del, now, time.Second); p.Action != idmap.Nothing {
			t.Fatalf("delete: %v", p.Action)
		}
		if p, _ := IDMapBegin(ctx, procs[1], k, create, now.Add(time.Hour), time.Second); p.Action != idmap.Stale {
			t.Fatalf("create after the delete: %v", p.Action)
		}
	})
	t.Run("create first", func(t *testing.T) {
		del := event.Event{ID: "d", Account: "a", Entity: "contact", Key: "seq-2", Op: event.OpDelete, Version: 2}
		create := event.Event{ID: "c", Account: "a", Entity: "contact", Key: "seq-2", Op: event.OpUpsert, Version: 1}
		if p, _ := IDMapBegin(ctx, procs[0], k, create, now, time.Second); p.Action != idmap.Create {
			t.Fatalf("create: %v", p.Action)
		}
		if p, _ := IDMapBegin(ctx, procs[1], k, del, now.Add(500*time.Millisecond), time.Second); p.Action != idmap.Wait || p.Wait != 500*time.Millisecond {
			t.Fatalf("delete during the create: %+v", p)
		}
		if p, _ := IDMapBegin(ctx, procs[1], k, del, now.Add(2*time.Second), time.Second); p.Action != idmap.FindThenDelete {
			t.Fatalf("delete after the create's hold: %+v", p)
		}
	})
}

// An id map entry a rollback undid (a Redis failover, an AOF restart) while
// the ledger still says the partner got the record: the record is looked
// up by our key before a create, and before a delete is called never sent
// (docs/reliability.md, "After a rollback"). With neither, a first create.
func TestIDMapBeginAfterTheEntryWasLost(t *testing.T) {
	rdb, k := idmapKeys(t)
	ctx := context.Background()
	now := time.UnixMilli(1_700_000_000_000)
	const hold = 30 * time.Second
	held := fmt.Sprintf("c|%d|5|e-1", now.Add(hold).UnixMilli())
	for _, tc := range []struct {
		name   string
		op     event.Op
		ledger bool
		want   idmap.Action
		stored string
	}{
		{"upsert, the ledger has the record", event.OpUpsert, true, idmap.FindThenCreate, held},
		{"delete, the ledger has the record", event.OpDelete, true, idmap.FindThenDelete, ""},
		{"upsert, a new record", event.OpUpsert, false, idmap.Create, held},
		{"delete, a record never sent", event.OpDelete, false, idmap.Nothing, "g|5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb.Del(ctx, k.IDMap("contact"), k.Ledger("contact"))
			if tc.ledger {
				if _, _, err := LedgerSet(ctx, rdb, k, "contact", "r 1", 3, "e-0", "acc-1"); err != nil {
					t.Fatal(err)
				}
			}
			got, err := IDMapBegin(ctx, rdb, k, idmapEvent("e-1", tc.op, 5), now, hold)
			if err != nil || got.Action != tc.want {
				t.Fatalf("Begin: %+v, %v; want %v", got, err, tc.want)
			}
			if v := rdb.HGet(ctx, k.IDMap("contact"), "r 1").Val(); v != tc.stored {
				t.Fatalf("entry %q, want %q", v, tc.stored)
			}
		})
	}
}
