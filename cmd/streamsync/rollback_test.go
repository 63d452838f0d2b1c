package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/streamsync/streamsync/partnersim"
)

// After a rollback (docs/reliability.md): a Redis failover or an AOF
// restart undid the id map entry of a record the partner holds (dropped
// here as the rollback would), while the ledger kept it. The next update
// looks the record up by our key and updates it — no second record at the
// partner; the next delete deletes it — no record left behind. The profile
// has no idempotency header, so the find alone keeps the create from
// being sent twice.
func TestRollbackOfTheIDMapEntry(t *testing.T) {
	r := newProfileRun(t, noRequestID(t))
	r.add(entry{id: "e-1", account: "acc-1", entity: "company", key: "k-1", op: "upsert", version: 1, data: `{"name":"Ann"}`})
	r.start()
	r.waitStep("delivered", 1, 20*time.Second)
	first := r.oneRecord("company", "k-1")
	if _, err := cli(t, r.env, "idmap", "drop", "company", "k-1"); err != nil {
		t.Fatal(err)
	}

	r.add(entry{id: "e-2", account: "acc-1", entity: "company", key: "k-1", op: "upsert", version: 2, data: `{"name":"Bea"}`})
	r.waitStep("delivered", 2, 20*time.Second)
	rec := r.oneRecord("company", "k-1")
	if rec.ID != first.ID || string(rec.Fields) != `{"name":"Bea"}` {
		t.Fatalf("the partner holds %s %s, want the first record %s updated", rec.ID, rec.Fields, first.ID)
	}
	if n := r.crm.count(http.MethodPost, "/crm/v2/company"); n != 1 {
		t.Fatalf("%d creates sent, want 1: calls %v", n, r.crm.seen())
	}
	if id, kind := r.idmapID("company", "k-1"); id != rec.ID || kind != "id" {
		t.Fatalf("id map holds %q (%s), the partner's record is %s", id, kind, rec.ID)
	}

	if _, err := cli(t, r.env, "idmap", "drop", "company", "k-1"); err != nil {
		t.Fatal(err)
	}
	r.add(entry{id: "e-3", account: "acc-1", entity: "company", key: "k-1", op: "delete", version: 3})
	r.waitStep("delivered", 3, 20*time.Second)
	if n := r.crm.count(http.MethodDelete, "/crm/v2/company/"+rec.ID); n != 1 {
		t.Fatalf("%d deletes of %s sent, want 1: calls %v", n, rec.ID, r.crm.seen())
	}
	for _, got := range r.crm.records("company", "k-1") {
		if !got.Archived {
			t.Fatalf("a live record left at the partner after the delete: %+v", got)
		}
	}
	if _, kind := r.idmapID("company", "k-1"); kind != "gone" {
		t.Fatalf("id map entry %q after the delete, want gone", kind)
	}
}

// After a rollback (docs/reliability.md): the ledger entry of a record was
// undone, and the acks with it, so events the partner already applied
// come again.
//   - Deleted: the same events are sent again (a redelivery); their
//     idempotency keys make the partner answer as before without applying
//     them again. Delivered.
//   - Set to an older version: an event at the partner's version under a
//     new id with other content (a producer that sent it again) is sent, the partner's own
//     version check refuses it (409 stale_version) and it ends
//     skipped_stale, never dead; the next newer event is delivered.
//
// The partner never applies a version below the one it holds.
func TestRollbackOfTheLedger(t *testing.T) {
	rdb, keys, env := streams(t, "rollback")
	sim, err := partnersim.New(partnersim.Options{ClientID: "id", ClientSecret: "sec"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	env = append(env, "STREAMSYNC_SINK__BASE_URL="+hs.URL, "STREAMSYNC_SINK__CLIENT_ID=id", "STREAMSYNC_SINK__CLIENT_SECRET=sec",
		"STREAMSYNC_RETRY__INITIAL=20ms", "STREAMSYNC_RETRY__MAX=500ms", "STREAMSYNC_SINK__TIMEOUT=3s")
	r := &profileRun{t: t, rdb: rdb, keys: keys, env: env}
	t.Cleanup(r.kill)
	wait := func(step string, n int64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for r.step(step) < n {
			if time.Now().After(deadline) {
				steps, _ := rdb.HGetAll(context.Background(), keys.Steps).Result()
				t.Fatalf("%d %s steps, want %d; steps %v; partner log %+v; process output:\n%s",
					r.step(step), step, n, steps, sim.Log(0, 0), r.output())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	upsert := func(id string, version int64) entry {
		return entry{id: id, account: "acc-1", entity: "main", key: "k-1", op: "upsert", version: version, data: fmt.Sprintf(`{"v":%d}`, version)}
	}
	held := func() int64 {
		for _, rec := range sim.Snapshot("acc-1").Records {
			if rec.Entity == "main" && rec.Key == "k-1" {
				return rec.Version
			}
		}
		return 0
	}

	r.add(upsert("e-1", 1), upsert("e-2", 2))
	r.start()
	wait("delivered", 2)

	if _, err := cli(t, env, "ledger", "drop", "main", "k-1"); err != nil {
		t.Fatal(err)
	}
	r.add(upsert("e-1", 1), upsert("e-2", 2))
	wait("delivered", 4)
	if v := held(); v != 2 {
		t.Fatalf("the partner holds version %d after the redelivery, want 2", v)
	}

	if _, err := cli(t, env, "ledger", "set", "main", "k-1", "--version", "1"); err != nil {
		t.Fatal(err)
	}
	again := upsert("e-2b", 2)
	again.data = `{"v":2,"again":true}` // not what the ledger holds: sent, not skipped_unchanged
	r.add(again)
	wait("skipped_stale", 1)
	r.add(upsert("e-3", 3))
	wait("delivered", 5)

	if n := r.step("dead"); n != 0 {
		t.Fatalf("%d dead letters after the rollback, want 0", n)
	}
	if v := held(); v != 3 {
		t.Fatalf("the partner holds version %d, want 3", v)
	}
	// Applied writes only: a 2xx under an idempotency key answered before
	// is the partner's replay of that answer, not a write.
	log := sim.Log(0, 0)
	answered := map[string]bool{}
	var top int64
	for _, l := range log {
		if l.Entity != "main" || l.Key != "k-1" || l.Status/100 != 2 || answered[l.IdempotencyKey] {
			continue
		}
		answered[l.IdempotencyKey] = true
		if l.Version <= top {
			t.Fatalf("the partner applied version %d after %d: log %+v", l.Version, top, log)
		}
		top = l.Version
	}
	if len(log) != 6 { // 1, 2; again 1, 2 (replayed); 2 under a new id (refused); 3
		t.Fatalf("%d calls, want 6: log %+v", len(log), log)
	}
}
