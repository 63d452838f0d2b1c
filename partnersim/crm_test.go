package partnersim

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestCRMRecordRoutes(t *testing.T) {
	c := startCRM(t, nil)
	company := c.create("company", "co-1", `{"name":"Acme"}`, "")
	contact := c.create("contact", "k-1", `{"name":"Li Lei","seat":"A3","tags":["x"]}`, company)
	if company != "c_000001" || contact != "c_000002" {
		t.Fatalf("ids %s, %s: want c_000001, c_000002", company, contact)
	}

	steps := []struct {
		name, method, path, body string
		code                     int
	}{
		{"create with an unknown parent", http.MethodPost, "/crm/v2/contact", crmBody("k-2", "a", `{}`, "c_999999"), CRMCodeParentNotFound},
		{"create, body not JSON", http.MethodPost, "/crm/v2/contact", `{"external_id":`, CRMCodeInvalid},
		{"create, unknown body field", http.MethodPost, "/crm/v2/contact", `{"external_id":"k","data":{}}`, CRMCodeInvalid},
		{"create, fields not an object", http.MethodPost, "/crm/v2/contact", `{"external_id":"k","fields":[1]}`, CRMCodeInvalid},
		{"create, no external_id", http.MethodPost, "/crm/v2/contact", `{"owner":"a","fields":{}}`, CRMCodeInvalid},
		{"create, bad entity", http.MethodPost, "/crm/v2/Contact", crmBody("k", "a", `{}`, ""), CRMCodeInvalid},
		{"get, another entity's id", http.MethodGet, "/crm/v2/company/" + contact, "", CRMCodeNotFound},
		{"get, unknown id", http.MethodGet, "/crm/v2/contact/c_424242", "", CRMCodeNotFound},
		{"patch, unknown id", http.MethodPatch, "/crm/v2/contact/c_424242", `{"fields":{"a":1}}`, CRMCodeNotFound},
		{"patch, unknown parent", http.MethodPatch, "/crm/v2/contact/" + contact, `{"parent_id":"c_424242"}`, CRMCodeParentNotFound},
		{"patch, external_id cannot change", http.MethodPatch, "/crm/v2/contact/" + contact, `{"external_id":"other"}`, CRMCodeInvalid},
		{"delete, unknown id", http.MethodDelete, "/crm/v2/contact/c_424242", "", CRMCodeNotFound},
		{"list, limit over 200", http.MethodGet, "/crm/v2/contact?limit=201", "", CRMCodeInvalid},
		{"list, negative offset", http.MethodGet, "/crm/v2/contact?offset=-1", "", CRMCodeInvalid},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			r := c.call(tt.method, tt.path, tt.body, nil)
			if r.status != http.StatusOK || r.code() != tt.code {
				t.Fatalf("%d %s: want 200 with code %d", r.status, r.raw, tt.code)
			}
			if tt.code != 0 && r.body["msg"] == "" {
				t.Fatalf("%s: an error without msg", r.raw)
			}
		})
	}
	if n := len(c.srv.CRMRecords("contact", "")); n != 1 {
		t.Fatalf("%d contacts after the refused calls, want 1", n)
	}

	r := c.call(http.MethodGet, "/crm/v2/contact/"+contact, "", nil)
	rec := r.data()
	if r.code() != 0 || rec["id"] != contact || rec["external_id"] != "k-1" || rec["owner"] != "acc-1" || rec["parent_id"] != company || rec["archived"] != false {
		t.Fatalf("get: %s", r.raw)
	}
	if at, _ := rec["updated_at"].(string); !regexp.MustCompile(`^2026-01-02T11:04:05\+08:00$`).MatchString(at) {
		t.Fatalf("updated_at %q: want RFC 3339 at +08:00", at)
	}
	if g := c.call(http.MethodGet, "/crm/v2/company/"+company, "", nil); g.data()["parent_id"] != nil {
		t.Fatalf("a record without a parent shows parent_id: %s", g.raw)
	}

	c.clock.Add(time.Minute)
	if r := c.call(http.MethodPatch, "/crm/v2/contact/"+contact, `{"fields":{"seat":"B7","tags":null,"new":1},"owner":"acc-2"}`, nil); r.code() != 0 {
		t.Fatalf("patch: %s", r.raw)
	}
	rec = c.call(http.MethodGet, "/crm/v2/contact/"+contact, "", nil).data()
	if fmt.Sprint(rec["fields"]) != "map[name:Li Lei new:1 seat:B7]" || rec["owner"] != "acc-2" || rec["updated_at"] != "2026-01-02T11:05:05+08:00" || rec["parent_id"] != company {
		t.Fatalf("after patch: %v (fields merge, null removes, owner replaced, parent kept)", rec)
	}

	if r := c.call(http.MethodDelete, "/crm/v2/contact/"+contact, "", nil); r.code() != 0 {
		t.Fatalf("delete: %s", r.raw)
	}
	if rec = c.call(http.MethodGet, "/crm/v2/contact/"+contact, "", nil).data(); rec["archived"] != true {
		t.Fatalf("after delete: %v, want archived", rec)
	}
	if r := c.call(http.MethodDelete, "/crm/v2/contact/"+contact, "", nil); r.code() != 0 {
		t.Fatalf("delete again: %s (archiving an archived record is a success)", r.raw)
	}
	if r := c.call(http.MethodPatch, "/crm/v2/contact/"+contact, `{"fields":{"a":1}}`, nil); r.code() != CRMCodeNotFound {
		t.Fatalf("patch of an archived record: %s", r.raw)
	}

	// A second record with the same external_id is allowed: the duplicate a
	// careless client makes. find shows both, the archived one included.
	again := c.create("contact", "k-1", `{"name":"Li Lei"}`, "")
	f := c.call(http.MethodGet, "/crm/v2/contact?external_id=k-1", "", nil)
	if items := f.items(); f.code() != 0 || len(items) != 2 || items[0].(map[string]any)["id"] != contact || items[1].(map[string]any)["id"] != again {
		t.Fatalf("find: %s", f.raw)
	}
	if f := c.call(http.MethodGet, "/crm/v2/contact?external_id=nobody", "", nil); f.code() != 0 || len(f.items()) != 0 || f.raw == nil {
		t.Fatalf("find of nothing: %s", f.raw)
	}
	if d := c.srv.CRMDuplicates("contact"); len(d) != 1 || d["k-1"] != 2 {
		t.Fatalf("duplicates %v, want k-1: 2", d)
	}
	st := c.srv.CRMStats()
	if st.Requests["POST /crm/v2/contact"] != 7 || st.Requests["PATCH /crm/v2/contact/{id}"] != 5 || st.Requests["GET /crm/v2/contact"] != 4 || st.Records != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCRMEveryAnswerCarriesRateHeaders(t *testing.T) {
	c := startCRM(t, func(o *Options) { o.CRM.Auth, o.CRM.APIKey = CRMAuthAPIKey, "k" })
	for _, r := range []crmResp{
		c.call(http.MethodPost, "/crm/v2/contact", crmBody("a", "o", `{}`, ""), nil),
		c.call(http.MethodGet, "/crm/v2/contact/c_000009", "", nil),
		c.call(http.MethodGet, "/crm/v2/contact", "", map[string]string{CRMAPIKeyHeader: "wrong"}),
	} {
		for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
			if r.header.Get(h) == "" {
				t.Fatalf("answer %s has no %s", r.raw, h)
			}
		}
	}
}

func TestCRMUnknownRoute(t *testing.T) {
	c := startCRM(t, nil)
	if r := c.call(http.MethodPut, "/crm/v2/contact/c_000001", `{}`, nil); r.status != http.StatusNotFound || r.code() != CRMCodeNoRoute {
		t.Fatalf("%d %s", r.status, r.raw)
	}
}

func TestCRMList(t *testing.T) {
	c := startCRM(t, nil)
	var ids []string
	for i := range 7 {
		ids = append(ids, c.create("contact", fmt.Sprintf("k-%d", i), `{}`, ""))
	}
	c.create("company", "co", `{}`, "") // another entity: not listed
	c.call(http.MethodDelete, "/crm/v2/contact/"+ids[1], "", nil)

	pages := []struct {
		query string
		want  []string
	}{
		{"?offset=0&limit=3", ids[0:3]},
		{"?offset=3&limit=3", ids[3:6]},
		{"?offset=6&limit=3", ids[6:7]},
		{"?offset=10&limit=3", nil},
		{"", ids}, // default limit 50
	}
	for _, p := range pages {
		r := c.call(http.MethodGet, "/crm/v2/contact"+p.query, "", nil)
		if r.code() != 0 || r.data()["total"] != float64(7) || !slices.Equal(itemIDs(r), p.want) {
			t.Fatalf("list %s: %s; want ids %v and total 7 (archived records listed)", p.query, r.raw, p.want)
		}
	}
	if r := c.call(http.MethodGet, "/crm/v2/nothing", "", nil); r.code() != 0 || r.data()["total"] != float64(0) || r.items() == nil {
		t.Fatalf("list of an empty entity: %s", r.raw)
	}
}

// With shuffle_pages, a page holds the same records in another order.
func TestCRMListShuffledPages(t *testing.T) {
	c := startCRM(t, func(o *Options) { o.Faults.CRM.ShufflePages = true; o.Seed = 3 })
	var ids []string
	for i := range 20 {
		ids = append(ids, c.create("contact", fmt.Sprintf("k-%d", i), `{}`, ""))
	}
	reordered := false
	for range 5 {
		got := itemIDs(c.call(http.MethodGet, "/crm/v2/contact?offset=10&limit=10", "", nil))
		if !slices.Equal(slices.Sorted(slices.Values(got)), ids[10:20]) {
			t.Fatalf("shuffled page %v holds other records than %v", got, ids[10:20])
		}
		reordered = reordered || !slices.Equal(got, ids[10:20])
	}
	if !reordered {
		t.Fatal("five shuffled pages all came in id order")
	}
}

func itemIDs(r crmResp) []string {
	var ids []string
	for _, it := range r.items() {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	return ids
}

func TestCRMIdempotentCreate(t *testing.T) {
	c := startCRM(t, nil)
	body := crmBody("k-1", "acc", `{"n":1}`, "")
	hdr := map[string]string{CRMRequestIDHeader: "evt-1"}
	first := c.call(http.MethodPost, "/crm/v2/contact", body, hdr)
	again := c.call(http.MethodPost, "/crm/v2/contact", body, hdr)
	if first.code() != 0 || string(again.raw) != string(first.raw) || again.header.Get("X-Idempotent-Replayed") != "true" {
		t.Fatalf("first %s, again %s (replayed %q): want the same answer", first.raw, again.raw, again.header.Get("X-Idempotent-Replayed"))
	}
	if n := len(c.srv.CRMRecords("contact", "k-1")); n != 1 {
		t.Fatalf("%d records after a repeated X-Request-Id, want 1", n)
	}
	// Another request id, or none, makes another record.
	c.call(http.MethodPost, "/crm/v2/contact", body, map[string]string{CRMRequestIDHeader: "evt-2"})
	c.call(http.MethodPost, "/crm/v2/contact", body, nil)
	if n := len(c.srv.CRMRecords("contact", "k-1")); n != 3 || c.srv.CRMStats().Replays != 1 {
		t.Fatalf("%d records, %d replays; want 3 and 1", n, c.srv.CRMStats().Replays)
	}
	// A refused create is not remembered: its retry is applied.
	hdr = map[string]string{CRMRequestIDHeader: "evt-3"}
	if r := c.call(http.MethodPost, "/crm/v2/contact", crmBody("k-3", "acc", `{}`, "c_777777"), hdr); r.code() != CRMCodeParentNotFound {
		t.Fatalf("%s", r.raw)
	}
	if r := c.call(http.MethodPost, "/crm/v2/contact", crmBody("k-3", "acc", `{}`, ""), hdr); r.code() != 0 || r.header.Get("X-Idempotent-Replayed") != "" {
		t.Fatalf("%s", r.raw)
	}
}

func TestCRMAPIModes(t *testing.T) {
	crmOnly := startCRM(t, func(o *Options) { o.API = APICRM })
	if r := crmOnly.doStatus(http.MethodGet, "/v1/contact/k"); r != http.StatusNotFound {
		t.Fatalf("crm only: /v1/ answered %d", r)
	}
	if r := crmOnly.doStatus(http.MethodPost, "/oauth/token"); r != http.StatusNotFound {
		t.Fatalf("crm only: /oauth/token answered %d", r)
	}
	crmOnly.create("contact", "k", `{}`, "")
	v1Only := startCRM(t, func(o *Options) { o.API = APIV1 })
	if r := v1Only.doStatus(http.MethodGet, "/crm/v2/contact"); r != http.StatusNotFound {
		t.Fatalf("v1 only: /crm/ answered %d", r)
	}
	if r := v1Only.doStatus(http.MethodGet, "/v1/contact/k"); r != http.StatusNotFound {
		t.Fatalf("v1 only: /v1/ answered %d, want its own 404 for a missing record", r)
	}
	if _, err := New(Options{API: "soap"}); err == nil {
		t.Fatal("New took api soap")
	}
}

func (c *crmSim) doStatus(method, path string) int {
	c.tb.Helper()
	req, _ := http.NewRequest(method, c.url+path, nil)
	resp, err := c.client.Do(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestCRMSeedAndReset(t *testing.T) {
	c := startCRM(t, nil)
	if n, err := c.srv.CRMSeed(SeedSpec{Entity: "contact", Count: 250, Accounts: 5}); err != nil || n != 250 {
		t.Fatalf("seed: %d %v", n, err)
	}
	r := c.call(http.MethodGet, "/crm/v2/contact?offset=200&limit=200", "", nil)
	if r.data()["total"] != float64(250) || len(r.items()) != 50 {
		t.Fatalf("%s", r.raw)
	}
	if it := r.items()[0].(map[string]any); it["external_id"] != SeedKey("", 200) || it["owner"] != "acc-0" || fmt.Sprint(it["fields"]) != "map[i:200 name:record 200]" {
		t.Fatalf("seeded item %v", it)
	}
	c.doStatus(http.MethodPost, "/_sim/reset")
	if st := c.srv.CRMStats(); st.Records != 0 || len(st.Requests) != 0 || len(c.srv.CRMRecords("contact", "")) != 0 {
		t.Fatalf("after reset: %+v", st)
	}
	if id := c.create("contact", "k", `{}`, ""); id != "c_000001" {
		t.Fatalf("first id after reset %s", id)
	}
}

func TestCRMStoreIsBounded(t *testing.T) {
	c := startCRM(t, func(o *Options) { o.CRM.MaxRecords = 2 })
	c.create("contact", "a", `{}`, "")
	c.create("contact", "b", `{}`, "")
	if r := c.call(http.MethodPost, "/crm/v2/contact", crmBody("c", "o", `{}`, ""), nil); r.status != http.StatusInsufficientStorage || r.code() != CRMCodeFull {
		t.Fatalf("%d %s", r.status, r.raw)
	}
}

func TestCRMIDOrder(t *testing.T) {
	for n, want := range map[int64]string{1: "c_000001", 123: "c_000123", 999999: "c_999999", 1000000: "c_1000000"} {
		if got := crmID(n); got != want {
			t.Errorf("crmID(%d) = %s, want %s", n, got, want)
		}
	}
}

// Concurrent creates under one X-Request-Id make one record; under none,
// one each.
func TestCRMConcurrentCreates(t *testing.T) {
	c := startCRM(t, nil)
	var wg sync.WaitGroup
	ids := make([]string, 16)
	for i := range ids {
		wg.Go(func() {
			r := c.call(http.MethodPost, "/crm/v2/contact", crmBody("same", "a", `{}`, ""), map[string]string{CRMRequestIDHeader: "evt-1"})
			ids[i], _ = r.data()["id"].(string)
		})
	}
	for i := range 16 {
		wg.Go(func() { c.create("contact", fmt.Sprintf("k-%d", i), `{}`, "") })
	}
	wg.Wait()
	if ids[0] == "" || slices.ContainsFunc(ids, func(id string) bool { return id != ids[0] }) {
		t.Fatalf("ids %v: want one id for one X-Request-Id", ids)
	}
	if n := len(c.srv.CRMRecords("contact", "")); n != 17 {
		t.Fatalf("%d records, want 17", n)
	}
}
