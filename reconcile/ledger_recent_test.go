package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/reconcile"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

func upsert(id, account, entity, key string, version int64, data string) event.Event {
	return event.Event{ID: id, Account: account, Entity: entity, Key: key, Op: event.OpUpsert, Version: version, Data: json.RawMessage(data)}
}

// TestAgainstLedger: with no source, the ledger (what was delivered) is our
// side; a delivery the partner lost is found.
func TestAgainstLedger(t *testing.T) {
	w := newWorld(t)
	w.startPipeline()
	w.appendEvents(
		upsert("e1", "acc-1", "reg", "k1", 1, `{"a":1}`),
		upsert("e2", "acc-1", "reg", "k/2", 1, `{"b":2}`),
		upsert("e3", "acc-2", "reg", "k3", 1, `{"c":3}`),
		event.Event{ID: "e4", Account: "acc-2", Entity: "reg", Key: "k3", Op: event.OpDelete, Version: 2},
		upsert("e5", "acc-2", "reg", "k4", 1, `{"d":4}`),
		event.Event{ID: "e6", Account: "acc-2", Entity: "reg", Key: "k4", Op: event.OpDelete, Version: 2},
	)
	w.waitDelivered(6)
	// The partner loses k1, and k4 comes back there behind our delete.
	lose(t, w, "reg", "k1")
	w.seed(w.theirs, rec("reg", "k4", "acc-2", 1, `{"d":4}`))

	rep, err := w.reconciler(reconcile.Config{}, false).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// k1 missing (lost), k/2 equal, k3 deleted on both sides (not counted),
	// k4 deleted here but back there at a lower version: behind.
	if rep.Against != "ledger" || rep.Missing != 1 || rep.Equal != 1 || rep.Behind != 1 || rep.Found() != 2 || rep.Ours != 2 || rep.Theirs != 2 {
		t.Fatalf("against the ledger: %+v", rep)
	}
	if len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0], "ledger") {
		t.Fatalf("notes %v should say the ledger is what was delivered", rep.Notes)
	}
	rep, err = w.reconciler(reconcile.Config{Accounts: []string{"acc-1"}}, false).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Missing != 1 || rep.Equal != 1 || rep.Found() != 1 || rep.Ours != 2 || rep.Theirs != 1 ||
		len(rep.Differences) != 1 || rep.Differences[0].Key != "k1" || rep.Differences[0].Account != "acc-1" {
		t.Fatalf("against the ledger for acc-1: %+v", rep)
	}
	if _, err := reconcile.New(reconcile.Config{Database: w.db, Repair: true}, reconcile.Deps{CH: w.conn, Theirs: w.partner,
		Ledger: reconcile.RedisLedger{RDB: w.rdb, Key: w.keys.Ledger}}); err == nil || !strings.Contains(err.Error(), "--repair") {
		t.Fatalf("repair without a source: %v", err)
	}
	if _, err := reconcile.New(reconcile.Config{Database: w.db, Repair: true, Against: reconcile.AgainstLedger}, reconcile.Deps{CH: w.conn,
		Theirs: w.partner, Ours: w.oursSrc, Ledger: reconcile.RedisLedger{RDB: w.rdb, Key: w.keys.Ledger}}); err == nil || !strings.Contains(err.Error(), "--repair") {
		t.Fatalf("repair against the ledger: %v", err)
	}
}

// lose makes the partner lose one record, as a lost write would.
func lose(t *testing.T, w *world, entity, key string) {
	t.Helper()
	d, err := w.theirs.Drift(partnersim.DriftSpec{Entity: entity, Keys: []string{key}, Drop: 1})
	if err != nil || len(d.Dropped) != 1 || d.Dropped[0].Key != key {
		t.Fatalf("drift dropped %v, not %s: %v", d.Dropped, key, err)
	}
}

// TestRecent checks only what was delivered in the window, by point reads.
func TestRecent(t *testing.T) {
	w := newWorld(t)
	for i := 1; i <= 5; i++ {
		w.seedBoth(rec("reg", fmt.Sprintf("r%d", i), "acc-1", 3, fmt.Sprintf(`{"i":%d}`, i)))
	}
	w.seed(w.theirs, rec("reg", "r3", "acc-1", 3, `{"i":"changed"}`))
	if err := attemptlog.EnsureSchema(context.Background(), w.conn, w.db); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	b, err := w.conn.PrepareBatch(context.Background(), fmt.Sprintf("INSERT INTO %s.attempts (ts, event_id, row_id, account, entity, key, step)", w.db))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		key, step string
		ago       time.Duration
	}{{"r1", "delivered", 10 * time.Minute}, {"r3", "delivered", 5 * time.Minute}, {"r2", "delivered", 3 * time.Hour},
		{"r4", "skipped_stale", time.Minute}, {"r1", "delivered", 20 * time.Minute}} {
		if err := b.Append(now.Add(-r.ago).UTC(), "e-"+r.key, "row-"+r.key+r.ago.String(), "acc-1", "reg", r.key, r.step); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	rep, err := w.reconciler(reconcile.Config{Recent: time.Hour}, true).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// r1 and r3 were delivered within the hour: r1 equal, r3 differs. r2
	// (too old) and r4 (not delivered) are not looked at.
	if rep.Ours != 2 || rep.Theirs != 2 || rep.Equal != 1 || rep.Differs != 1 || rep.Found() != 1 || rep.Recent != "1h0m0s" {
		t.Fatalf("recent: %+v", rep)
	}
}
