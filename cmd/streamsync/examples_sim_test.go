package main

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/streamsync/streamsync/partnersim"
)

// TestExampleCRM: examples/partners/crm.yaml against partnersim's crm API
// (HMAC-signed calls, ids it assigns, errors inside 200s, offset paging,
// contacts through its batch upsert): every record once at the partner,
// children under their parent's crm id, deletes archived, a clean
// reconcile, and a preview of the same events.
func TestExampleCRM(t *testing.T) {
	const secret = "example-crm-secret-0123"
	sim, err := partnersim.New(partnersim.Options{API: partnersim.APICRM,
		CRM: partnersim.CRMOptions{Auth: partnersim.CRMAuthHMAC, AppKey: "streamsync", Secret: secret}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	events := []ev{
		{ID: "c1", Account: "acc-1", Entity: "main_registration", Key: "m-1", Op: "upsert", Version: 1, Data: `{"name":"Li Lei"}`},
		{ID: "c2", Account: "acc-1", Entity: "sub_registration", Key: "s-1", Op: "upsert", Version: 1, Data: `{"seat":"A3"}`, ParentEntity: "main_registration", ParentKey: "m-1"},
		{ID: "c3", Account: "acc-2", Entity: "main_registration", Key: "m-2", Op: "upsert", Version: 1, Data: `{"name":"Han Meimei"}`},
		{ID: "c4", Account: "acc-1", Entity: "main_registration", Key: "m-1", Op: "upsert", Version: 2, Data: `{"name":"Li Lei","vip":true}`},
		{ID: "c5", Account: "acc-2", Entity: "contact", Key: "ct-1", Op: "upsert", Version: 1, Data: `{"email":"h@example.com"}`, ParentEntity: "main_registration", ParentKey: "m-2"},
		{ID: "c6", Account: "acc-3", Entity: "contact", Key: "ct-2", Op: "upsert", Version: 1, Data: `{"email":"x@example.com"}`},
		{ID: "c7", Account: "acc-3", Entity: "contact", Key: "ct-2", Op: "upsert", Version: 2, Data: `{"email":"y@example.com"}`},
		{ID: "c8", Account: "acc-2", Entity: "sub_registration", Key: "s-2", Op: "upsert", Version: 1, Data: `{"seat":"B1"}`, ParentEntity: "main_registration", ParentKey: "m-2"},
		{ID: "c9", Account: "acc-2", Entity: "sub_registration", Key: "s-2", Op: "delete", Version: 2},
		{ID: "c10", Account: "acc-4", Entity: "sub_registration", Key: "never-sent", Op: "delete", Version: 1},
	}
	secrets := map[string]string{"CRM_APP_SECRET": secret}
	_, _, env := runExample(t, exampleRun{profile: "crm.yaml", baseURL: hs.URL + "/crm", secrets: secrets, events: events})

	for _, entity := range []string{"main_registration", "sub_registration", "contact"} {
		if d := sim.CRMDuplicates(entity); len(d) > 0 {
			t.Errorf("%s: duplicates at the partner: %v", entity, d)
		}
	}
	one := func(entity, key string) partnersim.CRMRecord {
		t.Helper()
		rs := sim.CRMRecords(entity, key)
		if len(rs) != 1 {
			t.Fatalf("%s/%s: %d records at the partner, want 1", entity, key, len(rs))
		}
		return rs[0]
	}
	m1, m2 := one("main_registration", "m-1"), one("main_registration", "m-2")
	if s1 := one("sub_registration", "s-1"); s1.ParentID != m1.ID {
		t.Errorf("s-1's parent_id %q, want m-1's crm id %q", s1.ParentID, m1.ID)
	}
	if ct1 := one("contact", "ct-1"); ct1.ParentID != m2.ID {
		t.Errorf("ct-1's parent_id %q, want m-2's crm id %q", ct1.ParentID, m2.ID)
	}
	if !one("sub_registration", "s-2").Archived {
		t.Error("s-2 was deleted, and is not archived at the partner")
	}
	var fields map[string]any
	if err := json.Unmarshal(one("main_registration", "m-1").Fields, &fields); err != nil || fields["vip"] != true {
		t.Errorf("m-1's fields %v (%v), want version 2's", fields, err)
	}
	if len(sim.CRMRecords("sub_registration", "never-sent")) != 0 {
		t.Error("a delete of a record never sent reached the partner")
	}
	st := sim.CRMStats()
	if st.Requests["POST /crm/v2/contact/batch_upsert"] == 0 || st.Requests["POST /crm/v2/contact"] != 0 {
		t.Errorf("contacts went one by one, not through the batch upsert: %v", st.Requests)
	}

	reconcileClean(t, env, map[string][]ourRecord{
		"main_registration": {{"m-1", "acc-1", 2, `{"name":"Li Lei","vip":true}`}, {"m-2", "acc-2", 1, `{"name":"Han Meimei"}`}},
		"sub_registration":  {{"s-1", "acc-1", 1, `{"seat":"A3"}`}},
		"contact":           {{"ct-1", "acc-2", 1, `{"email":"h@example.com"}`}, {"ct-2", "acc-3", 2, `{"email":"y@example.com"}`}},
	})
	previewShows(t, env, events[:2], secrets, "POST "+hs.URL+"/crm/v2/main_registration", "X-Sign: ",
		`"parent_id": "{parent.partner_id}"`, "PATCH "+hs.URL+"/crm/v2/sub_registration/{partner_id}")
}

// TestExampleStreamsync: examples/partners/streamsync.yaml, the built-in
// API written as a profile, against partnersim's built-in API: every
// record at its version with its parent, a clean reconcile, a preview.
func TestExampleStreamsync(t *testing.T) {
	const secret = "example-oauth-secret-0123"
	sim, err := partnersim.New(partnersim.Options{API: partnersim.APIV1, ClientID: "streamsync", ClientSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	events := []ev{
		{ID: "s1", Account: "acc-1", Entity: "main_registration", Key: "m-1", Op: "upsert", Version: 10, Data: `{"name":"Li Lei"}`},
		{ID: "s2", Account: "acc-1", Entity: "sub_registration", Key: "s-1", Op: "upsert", Version: 11, Data: `{"seat":"A3"}`, ParentEntity: "main_registration", ParentKey: "m-1"},
		{ID: "s3", Account: "acc-2", Entity: "main_registration", Key: "m-2", Op: "upsert", Version: 12, Data: `{"name":"Han Meimei"}`},
		{ID: "s4", Account: "acc-1", Entity: "main_registration", Key: "m-1", Op: "upsert", Version: 13, Data: `{"name":"Li Lei","vip":true}`},
		{ID: "s5", Account: "acc-2", Entity: "main_registration", Key: "m-2", Op: "delete", Version: 14},
	}
	secrets := map[string]string{"PARTNER_CLIENT_SECRET": secret}
	_, _, env := runExample(t, exampleRun{profile: "streamsync.yaml", baseURL: hs.URL, secrets: secrets, events: events})

	recs := map[string]partnersim.RecordState{}
	for _, r := range sim.Snapshot("").Records {
		recs[r.Entity+"/"+r.Key] = r
	}
	if m1 := recs["main_registration/m-1"]; m1.Version != 13 || m1.Deleted {
		t.Errorf("m-1 at the partner: %+v, want version 13", m1)
	}
	if s1 := recs["sub_registration/s-1"]; s1.Version != 11 || s1.Parent == nil || s1.Parent.Key != "m-1" {
		t.Errorf("s-1 at the partner: %+v, want version 11 under m-1", s1)
	}
	if m2, ok := recs["main_registration/m-2"]; ok && !m2.Deleted {
		t.Errorf("m-2 was deleted, the partner has %+v", m2)
	}
	reconcileClean(t, env, map[string][]ourRecord{
		"main_registration": {{"m-1", "acc-1", 13, `{"name":"Li Lei","vip":true}`}},
		"sub_registration":  {{"s-1", "acc-1", 11, `{"seat":"A3"}`}},
	})
	previewShows(t, env, events[1:2], secrets, "PUT "+hs.URL+"/v1/sub_registration/s-1", "Idempotency-Key: s2",
		`"parent": {`)
}
