package pipeline

import (
	"context"
	"encoding/json"
	"github.com/streamsync/streamsync/inspect"
	"math"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/proof"
	"github.com/streamsync/streamsync/partnersim"
)

// maxVersion is the highest version an event may claim.
const maxVersion = math.MaxInt64

// ledger is the ledger's entry for a record of the harness' first shard.
func (h *harness) ledger(entity, key string) handlers.Ledger {
	h.t.Helper()
	v, err := h.rdb.HGet(context.Background(), h.keys.Ledger(entity), key).Result()
	if err != nil && err != redis.Nil {
		h.t.Fatal(err)
	}
	return handlers.ParseLedger(v)
}

// partnerVersion is the version the partner holds of a record (0: none).
func (h *harness) partnerVersion(entity, key string) int64 {
	for _, r := range h.sim.Snapshot("").Records {
		if r.Entity == entity && r.Key == key {
			return r.Version
		}
	}
	return 0
}

// repair appends a repair as reconciliation does: origin reconcile, with a
// repair proof made with the deployment's key.
func (h *harness) repair(id, account, entity, key string, version int64, data string) {
	h.t.Helper()
	k, err := proof.Load(context.Background(), h.rdb, h.keys.ProofKey)
	if err != nil {
		h.t.Fatal(err)
	}
	e := event.Event{ID: id, Account: account, Entity: entity, Key: key, Op: event.OpUpsert, Version: version,
		Origin: "reconcile", Data: json.RawMessage(data)}
	e.Proof = k.SignEvent(proof.Repair, e)
	if err := h.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: h.shards.Stream(account), Values: e.Fields()}).Err(); err != nil {
		h.t.Fatal(err)
	}
}

// An echo (origin = the partner's name) proves nothing about its version:
// anyone who can append can write one. It records its content, so that our
// side's echo of the same content is skipped as unchanged, but never raises
// the ledger's version; at version 9223372036854775807 it no longer makes
// every later event of the record stale.
func TestEchoCannotRaiseTheLedger(t *testing.T) {
	h := newHarness(t, options{})
	h.upsert("e1", "acc", "main", "k", 5, `{"v":1}`)
	h.waitSteps("e1", "delivered")
	h.upsert("forged", "acc", "main", "k", maxVersion, `{"v":"forged"}`, "origin", "partner")
	h.waitSteps("forged", "skipped_loop")
	if l := h.ledger("main", "k"); l.Version != 5 || l.Hash != event.ContentHash([]byte(`{"v":"forged"}`)) {
		t.Fatalf("ledger after the echo: %+v; want version 5 with the echo's content", l)
	}
	h.upsert("e2", "acc", "main", "k", 6, `{"v":2}`)
	h.waitSteps("e2", "delivered")
	if v := h.partnerVersion("main", "k"); v != 6 {
		t.Fatalf("partner has version %d, want 6", v)
	}
	// An echo no newer than the ledger changes nothing, content included.
	h.upsert("late", "acc", "main", "k", 6, `{"v":"late"}`, "origin", "partner")
	h.waitSteps("late", "skipped_loop")
	if l := h.ledger("main", "k"); l.Version != 6 || l.EventID != "e2" {
		t.Fatalf("ledger after a late echo: %+v", l)
	}

	// A record the ledger has never seen: the echo's content at version 0.
	h.upsert("forged-new", "acc", "main", "new", maxVersion, `{"n":1}`, "origin", "partner")
	h.waitSteps("forged-new", "skipped_loop")
	if l := h.ledger("main", "new"); !l.Found || l.Version != 0 {
		t.Fatalf("ledger of a record first seen in an echo: %+v", l)
	}
	h.upsert("e3", "acc", "main", "new", 1, `{"n":2}`)
	h.waitSteps("e3", "delivered")
	// Same content from our side is still recognised.
	h.upsert("echo", "acc", "main", "new", 2, `{"n":3}`, "origin", "partner")
	h.waitSteps("echo", "skipped_loop")
	h.upsert("ours", "acc", "main", "new", 3, `{"n":3}`)
	h.waitSteps("ours", "skipped_unchanged")
	if l := h.ledger("main", "new"); l.Version != 3 {
		t.Fatalf("ledger %+v: the version moves up to our skipped event's", l)
	}
}

// origin=reconcile, a replay marker or a proof that does not verify lets
// nothing skip the ledger: such an event is an ordinary one.
func TestClaimsWithoutProofAreChecked(t *testing.T) {
	h := newHarness(t, options{})
	h.upsert("e1", "acc", "main", "k", 10, `{"v":1}`)
	h.waitSteps("e1", "delivered")

	k, err := proof.Load(context.Background(), h.rdb, h.keys.ProofKey)
	if err != nil {
		t.Fatal(err)
	}
	other := map[string]string{"id": "rc-1-9", "account": "acc", "entity": "main", "key": "k", "op": "upsert",
		"version": "11", "origin": "reconcile", "data": `{"v":0}`}
	stolen := k.Sign(proof.Repair, other) // a real proof, of another entry
	h.upsert("rc-1-1", "acc", "main", "k", 5, `{"v":0}`, "origin", "reconcile")
	h.upsert("rc-1-2", "acc", "main", "k", 11, `{"v":1}`, "origin", "reconcile")
	h.upsert("rc-1-3", "acc", "main", "k", 4, `{"v":0}`, "origin", "reconcile", handlers.MetaProof, "repair:"+stolen[len("repair:"):len(stolen)-2]+"AA")
	h.upsert("rc-1-4", "acc", "main", "k", 3, `{"v":0}`, "origin", "reconcile", handlers.MetaProof, stolen)
	h.upsert("rp-1", "acc", "main", "k", 2, `{"v":0}`, handlers.MetaReplay, "1")
	h.upsert("rp-2", "acc", "main", "k", 2, `{"v":0}`, handlers.MetaReplay, "1", handlers.MetaProof, "replay:"+stolen[len("repair:"):])
	h.waitSteps("rc-1-1", "skipped_stale")
	h.waitSteps("rc-1-2", "skipped_unchanged")
	for _, id := range []string{"rc-1-3", "rc-1-4", "rp-1", "rp-2"} {
		h.waitSteps(id, "skipped_stale")
	}
	if n := len(h.sim.Log(0, 0)); n != 1 {
		t.Fatalf("the partner got %d requests, want 1", n)
	}
	if l := h.ledger("main", "k"); l.Version != 11 {
		t.Fatalf("ledger %+v", l)
	}
}

// A proven repair mends a ledger pushed too high, whatever pushed it: it is
// never skipped as stale or unchanged, and once delivered the ledger holds
// the version it sent, lower than before. Later events flow again.
func TestProvenRepairMendsALedgerTooHigh(t *testing.T) {
	h := newHarness(t, options{})
	h.upsert("e1", "acc", "main", "k", 10, `{"v":1}`)
	h.waitSteps("e1", "delivered")
	tooHigh := handlers.Ledger{Found: true, Version: maxVersion, Hash: event.ContentHash([]byte(`{"v":2}`)), EventID: "x"}
	h.rdb.HSet(context.Background(), h.keys.Ledger("main"), "k", tooHigh.String())
	h.upsert("e2", "acc", "main", "k", 11, `{"v":2}`)
	h.waitSteps("e2", "skipped_stale") // what a ledger too high does

	h.repair("rc-2-1", "acc", "main", "k", 11, `{"v":2}`) // the ledger even has its content
	h.waitSteps("rc-2-1", "delivered")
	if l := h.ledger("main", "k"); l.Version != 11 || l.EventID != "rc-2-1" {
		t.Fatalf("ledger after the repair: %+v, want version 11", l)
	}
	if v := h.partnerVersion("main", "k"); v != 11 {
		t.Fatalf("partner has %d, want 11", v)
	}
	h.upsert("e3", "acc", "main", "k", 12, `{"v":3}`)
	h.waitSteps("e3", "delivered")
	h.upsert("e4", "acc", "main", "k", 12, `{"v":4}`)
	h.waitSteps("e4", "skipped_stale") // ordinary events are checked again
}

// A repair keeps its proof through retries (its next entry carries it),
// and the ledger ends at its version when it is delivered at last.
func TestProvenRepairKeepsItsProofThroughRetries(t *testing.T) {
	h := newHarness(t, options{})
	h.rdb.HSet(context.Background(), h.keys.Ledger("main"), "k",
		handlers.Ledger{Found: true, Version: 500, Hash: "h", EventID: "x"}.String())
	h.faults(partnersim.Faults{ErrorRate: 1})
	h.repair("rc-3-1", "acc", "main", "k", 7, `{"v":7}`)
	h.waitSteps("rc-3-1", "retry_scheduled")
	h.faults(partnersim.Faults{})
	by := h.advanceUntilTerminal([]string{"rc-3-1"}, 2*time.Second, 15*time.Second)
	if s := by["rc-3-1"]; s[len(s)-1] != "delivered" {
		t.Fatalf("steps %v", s)
	}
	if l := h.ledger("main", "k"); l.Version != 7 {
		t.Fatalf("ledger %+v, want version 7", l)
	}
}

// A replayed dead letter skips the ledger check for its own id, with the
// proof the replay adds; a dead letter keeps no proof.
func TestReplayProvesItself(t *testing.T) {
	h := newHarness(t, options{})
	h.faults(partnersim.Faults{RejectPrefix: "bad"})
	h.upsert("old", "acc", "main", "bad-k", 5, `{"v":5}`)
	h.waitSteps("old", "dead")
	h.faults(partnersim.Faults{})
	h.upsert("new", "acc", "main", "bad-k", 10, `{"v":10}`)
	h.waitSteps("new", "delivered")

	ops := inspect.DeadOps{RDB: h.rdb, Shards: h.shards, Instance: "op", AttemptLog: true, Clock: h.clock}
	if _, err := ops.Replay(context.Background(), inspect.DeadFilter{IDs: []string{"old"}}); err != nil {
		t.Fatal(err)
	}
	// Past the ledger, the partner itself says it has a newer version.
	h.waitSteps("old", "dead", "replayed", "skipped_stale")
	var sent bool
	for _, e := range h.sim.Log(0, 0) {
		sent = sent || e.IdempotencyKey == "old" && e.Version == 5 && e.Status == 409
	}
	if !sent {
		t.Fatalf("the replay did not reach the partner: %+v", h.sim.Log(0, 0))
	}
	if l := h.ledger("main", "bad-k"); l.Version != 10 {
		t.Fatalf("ledger %+v", l)
	}
	// The same entry written by a producer, replay marker and all, proves
	// nothing: the ledger skips it without a partner call.
	calls := len(h.sim.Log(0, 0))
	h.upsert("forged-replay", "acc", "main", "bad-k", 5, `{"v":5}`, handlers.MetaReplay, "1")
	h.waitSteps("forged-replay", "skipped_stale")
	if n := len(h.sim.Log(0, 0)); n != calls {
		t.Fatalf("a forged replay reached the partner (%d calls, want %d)", n, calls)
	}

	// A replay that dies again leaves a dead letter without the proof.
	h.faults(partnersim.Faults{RejectPrefix: "bad"})
	h.upsert("newer", "acc", "main", "bad-k", 11, `{"v":11}`)
	h.waitSteps("newer", "dead")
	if _, err := ops.Replay(context.Background(), inspect.DeadFilter{IDs: []string{"newer"}}); err != nil {
		t.Fatal(err)
	}
	h.waitSteps("newer", "dead", "replayed", "dead")
	for _, d := range h.dead() {
		for name := range d.Fields {
			if handlers.IsMeta(name) {
				t.Fatalf("dead letter %s keeps %s", d.EventID, name)
			}
		}
	}
	rows, _ := h.rdb.XRange(context.Background(), h.keys.Attempts, "-", "+").Result()
	for _, r := range rows {
		for name, v := range r.Values {
			if s, _ := v.(string); name == proof.Field || len(s) > 7 && (s[:7] == "replay:" || s[:7] == "repair:") {
				t.Fatalf("attempt row keeps a proof: %v", r.Values)
			}
		}
	}
}
