package reconcile_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/proof"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/reconcile"
)

// A ledger pushed higher than our source (here to 9223372036854775807, with
// our content: every event of the record would be stale, or unchanged) is
// put right by a repair: the repair is delivered, the ledger ends at the
// version the repair sent, a second run finds nothing, and our next change
// reaches the partner.
func TestRepairMendsALedgerTooHigh(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.seed(w.ours, rec("reg", "k", "acc-1", 7, `{"v":7}`))
	w.seed(w.theirs, rec("reg", "k", "acc-1", 6, `{"v":6}`))
	tooHigh := handlers.Ledger{Found: true, Version: 1<<63 - 1, Hash: event.ContentHash([]byte(`{"v":7}`)), EventID: "forged"}
	w.rdb.HSet(ctx, w.keys.Ledger("reg"), "k", tooHigh.String())
	w.startPipeline()

	first, err := w.reconciler(reconcile.Config{Entities: []string{"reg"}, Repair: true}, true).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first.Behind != 1 || first.Repaired != 1 {
		t.Fatalf("first run: %+v", first)
	}
	evs := w.streamEvents()
	key, err := proof.Load(ctx, w.rdb, w.keys.ProofKey)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for k, v := range evs[0] {
		fields[k] = v.(string)
	}
	if key.Verify(fields[proof.Field], fields) != proof.Repair {
		t.Fatalf("the repair carries no valid proof: %v", fields)
	}
	w.waitDelivered(1)
	l, _ := w.rdb.HGet(ctx, w.keys.Ledger("reg"), "k").Result()
	if got := handlers.ParseLedger(l); got.Version != 7 {
		t.Fatalf("ledger after the repair: %q, want version 7", l)
	}
	second, err := w.reconciler(reconcile.Config{Entities: []string{"reg"}}, true).Run(ctx)
	if err != nil || second.Found() != 0 {
		t.Fatalf("second run: %+v %v", second, err)
	}

	w.appendEvents(event.Event{ID: "next", Account: "acc-1", Entity: "reg", Key: "k", Op: event.OpUpsert, Version: 8, Data: json.RawMessage(`{"v":8}`)})
	w.waitDelivered(2)
	testenv.WaitFor(t, 10*time.Second, "the partner to have version 8", func() bool {
		for _, r := range w.theirs.Snapshot("").Records {
			if r.Key == "k" {
				return r.Version == 8
			}
		}
		return false
	})
}

// A difference no repair event can carry — an extra record at the highest
// version there is, a key our source holds that no partner path carries —
// is named in the report's notes, and the other repairs are still made.
func TestRepairSkipsWhatNoEventCanCarry(t *testing.T) {
	w := newWorld(t)
	w.seed(w.ours, rec("reg", "max", "acc-1", 7, `{"v":7}`), rec("reg", "ok", "acc-1", 3, `{"v":3}`),
		rec("reg", "..", "acc-1", 1, `{"v":1}`))
	w.seed(w.theirs, rec("reg", "max", "acc-1", 1<<63-1, `{"v":"forged"}`), rec("reg", "extra", "acc-1", 1<<63-1, `{}`))
	rep, err := w.reconciler(reconcile.Config{Entities: []string{"reg"}, Repair: true, RepairExtra: true}, true).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	evs := w.streamEvents()
	if rep.Repaired != 1 || len(evs) != 1 || evs[0]["key"] != "ok" {
		t.Fatalf("repaired %d, events %v; want only the repair of ok", rep.Repaired, evs)
	}
	notes := strings.Join(rep.Notes, " ")
	if !strings.Contains(notes, "2 differences could not be repaired") || !strings.Contains(notes, "reg/extra (the partner holds version 9223372036854775807") ||
		!strings.Contains(notes, "reg/.. (key") || !strings.Contains(notes, "dot-segment") || rep.Ahead != 1 {
		t.Fatalf("notes %q should name the two records and why (and max is ahead: %d)", notes, rep.Ahead)
	}
}
