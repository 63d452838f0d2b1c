package main

import (
	"net/http"
	"testing"
	"time"
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
