package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// regPlatform is an in-test registration platform with standard query,
// add and modify interfaces, strict: apikey in the query; POST adds
// (201, Location: /api/v1/{entity}/{id}), PUT modifies by that id (the
// fields given replace those it has), nothing deletes; a child names its
// main registration by mainId and is refused 409 while that one is
// missing; the list (per_page at most 100) is paged by the Link header and
// filters by externalNo.
type regPlatform struct {
	key string

	mu    sync.Mutex
	next  int
	recs  map[string][]map[string]any // entity → records in id order
	posts int
}

func regError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": code, "message": msg})
}

// byID is the record of entity with id; mu held.
func (p *regPlatform) byID(id string) map[string]any {
	for _, rs := range p.recs {
		for _, r := range rs {
			if r["id"] == id {
				return r
			}
		}
	}
	return nil
}

func (p *regPlatform) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("apikey") != p.key {
		regError(w, 401, "unauthorized", "apikey missing or wrong")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/")
	if !ok {
		regError(w, 404, "not_found", "no such endpoint")
		return
	}
	entity, id, _ := strings.Cut(rest, "/")
	body, _ := io.ReadAll(r.Body)
	var in map[string]any
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		if err := json.Unmarshal(body, &in); err != nil || in == nil {
			regError(w, 400, "bad_request", "body must be a JSON object")
			return
		}
		if m, ok := in["mainId"]; ok {
			if ms, _ := m.(string); p.lockedMain(ms) == nil {
				regError(w, 409, "main_not_found", fmt.Sprintf("main registration %v does not exist", m))
				return
			}
		} else if entity == "sub_registration" && r.Method == http.MethodPost {
			regError(w, 400, "bad_request", "mainId is required")
			return
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && id == "":
		if in["externalNo"] == nil {
			regError(w, 400, "bad_request", "externalNo is required")
			return
		}
		p.next++
		p.posts++
		in["id"], in["status"] = strconv.Itoa(p.next), "active"
		p.recs[entity] = append(p.recs[entity], in)
		w.Header().Set("Location", "/api/v1/"+entity+"/"+in["id"].(string))
		w.WriteHeader(201)
	case r.Method == http.MethodPut && id != "":
		rec := p.byID(id)
		if rec == nil {
			regError(w, 404, "not_found", "no registration "+id)
			return
		}
		for k, v := range in {
			if k != "id" && k != "externalNo" {
				rec[k] = v
			}
		}
		w.WriteHeader(204)
	case r.Method == http.MethodGet && id != "":
		rec := p.byID(id)
		if rec == nil {
			regError(w, 404, "not_found", "no registration "+id)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rec)
	case r.Method == http.MethodGet:
		list := []map[string]any{}
		for _, rec := range p.recs[entity] {
			if x := q.Get("externalNo"); x == "" || rec["externalNo"] == x {
				list = append(list, rec)
			}
		}
		per, page := 100, 1
		if s := q.Get("per_page"); s != "" {
			per, _ = strconv.Atoi(s)
		}
		if s := q.Get("page"); s != "" {
			page, _ = strconv.Atoi(s)
		}
		if per < 1 || per > 100 || page < 1 {
			regError(w, 400, "bad_request", "per_page 1 to 100, page from 1")
			return
		}
		from, to := min((page-1)*per, len(list)), min(page*per, len(list))
		if to < len(list) {
			nq := r.URL.Query()
			nq.Set("page", strconv.Itoa(page+1))
			w.Header().Set("Link", fmt.Sprintf(`</api/v1/%s?%s>; rel="next"`, entity, nq.Encode()))
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(list[from:to])
	default:
		regError(w, 405, "method_not_allowed", r.Method+" "+r.URL.Path)
	}
}

// lockedMain is the main registration with id, taking mu.
func (p *regPlatform) lockedMain(id string) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.recs["main_registration"] {
		if r["id"] == id && r["status"] == "active" {
			return r
		}
	}
	return nil
}

// withKey is every record of entity whose externalNo is key.
func (p *regPlatform) withKey(entity, key string) []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []map[string]any
	for _, r := range p.recs[entity] {
		if r["externalNo"] == key {
			out = append(out, r)
		}
	}
	return out
}

// TestExampleRegistration: examples/partners/registration.yaml against a
// platform of that shape: main registrations added (their ids read from
// Location), sub registrations added under their main one's id, a change
// sent as a modify, a delete as a modify to cancelled, the list paged by
// Link headers; one record a key, a clean reconcile, a preview.
func TestExampleRegistration(t *testing.T) {
	const key = "reg-api-key-0123456789"
	reg := &regPlatform{key: key, recs: map[string][]map[string]any{}}
	hs := httptest.NewServer(reg)
	t.Cleanup(hs.Close)
	var events []ev
	ours := map[string][]ourRecord{}
	for i := range 3 {
		acc := "conf-" + strconv.Itoa(i)
		m := "m-" + strconv.Itoa(i)
		events = append(events, ev{ID: "e" + m, Account: acc, Entity: "main_registration", Key: m, Op: "upsert", Version: 1, Data: `{"name":"main ` + m + `"}`})
		ours["main_registration"] = append(ours["main_registration"], ourRecord{m, acc, 1, `{"name":"main ` + m + `"}`})
	}
	for i := range 60 { // more than a page: the Link header leads on
		acc, m, s := "conf-"+strconv.Itoa(i%3), "m-"+strconv.Itoa(i%3), "s-"+strconv.Itoa(i)
		data := fmt.Sprintf(`{"name":"guest %d","seat":"A%d"}`, i, i)
		events = append(events, ev{ID: "e" + s, Account: acc, Entity: "sub_registration", Key: s, Op: "upsert", Version: 1, Data: data, ParentEntity: "main_registration", ParentKey: m})
		if i >= 2 {
			ours["sub_registration"] = append(ours["sub_registration"], ourRecord{s, acc, 1, data})
		}
	}
	events = append(events,
		ev{ID: "u0", Account: "conf-0", Entity: "sub_registration", Key: "s-0", Op: "upsert", Version: 2, Data: `{"name":"guest 0","seat":"B7"}`, ParentEntity: "main_registration", ParentKey: "m-0"},
		ev{ID: "d1", Account: "conf-1", Entity: "sub_registration", Key: "s-1", Op: "delete", Version: 2},
	)
	ours["sub_registration"] = append(ours["sub_registration"], ourRecord{"s-0", "conf-0", 2, `{"name":"guest 0","seat":"B7"}`})
	secrets := map[string]string{"REG_API_KEY": key}
	_, _, env := runExample(t, exampleRun{profile: "registration.yaml", baseURL: hs.URL, secrets: secrets, events: events})

	mains := map[string]any{}
	for i := range 3 {
		rs := reg.withKey("main_registration", "m-"+strconv.Itoa(i))
		if len(rs) != 1 {
			t.Fatalf("m-%d: %d records at the platform, want 1", i, len(rs))
		}
		mains["m-"+strconv.Itoa(i)] = rs[0]["id"]
	}
	for i := range 60 {
		rs := reg.withKey("sub_registration", "s-"+strconv.Itoa(i))
		if len(rs) != 1 {
			t.Fatalf("s-%d: %d records at the platform, want 1", i, len(rs))
		}
		if want := mains["m-"+strconv.Itoa(i%3)]; rs[0]["mainId"] != want {
			t.Errorf("s-%d's mainId %v, want its main registration's id %v", i, rs[0]["mainId"], want)
		}
	}
	if s0 := reg.withKey("sub_registration", "s-0")[0]; s0["seat"] != "B7" {
		t.Errorf("s-0 at the platform: %v, want version 2", s0)
	}
	if s1 := reg.withKey("sub_registration", "s-1")[0]; s1["status"] != "cancelled" {
		t.Errorf("s-1 was deleted, and is %v at the platform", s1["status"])
	}
	reconcileClean(t, env, ours)
	previewShows(t, env, events[3:4], secrets, "POST "+hs.URL+"/api/v1/sub_registration?apikey=<redacted>",
		`"mainId": "{parent.partner_id}"`, "PUT "+hs.URL+"/api/v1/sub_registration/{partner_id}?apikey=<redacted>")
}
