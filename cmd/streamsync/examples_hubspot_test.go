package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// hubspotLike is an in-test CRM in the shape of a public CRM's v3 objects
// API, strict where it is documented to be: a bearer token, every property
// a string, a batch upsert of at most 100 inputs by idProperty external_id
// answering 207 with errors[] naming failed inputs, PATCH and DELETE
// (archive) by its id, a read by external_id, a list paged by
// paging.next.after with only the properties asked for.
type hubspotLike struct {
	token string

	mu      sync.Mutex
	next    int
	objects map[string]map[string]*hsObject // type → id → object
	reqs    map[string]int                  // "METHOD route" → count
}

type hsObject struct {
	ID       string            `json:"id"`
	Props    map[string]string `json:"properties"`
	Archived bool              `json:"archived"`
}

func newHubspotLike(token string) *hubspotLike {
	return &hubspotLike{token: token, next: 5100, objects: map[string]map[string]*hsObject{}, reqs: map[string]int{}}
}

func hsError(w http.ResponseWriter, status int, category, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "error", "category": category, "message": msg})
}

func hsJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// stringProps reads {"properties":{…}} whose every value is a string.
func stringProps(raw json.RawMessage) (map[string]string, error) {
	var anyProps map[string]any
	if err := json.Unmarshal(raw, &anyProps); err != nil || anyProps == nil {
		return nil, fmt.Errorf("properties must be an object")
	}
	props := map[string]string{}
	for k, v := range anyProps {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("property %s: want a string, got %T", k, v)
		}
		props[k] = s
	}
	return props, nil
}

// byExternal is the live object of typ whose external_id is k; mu held.
func (h *hubspotLike) byExternal(typ, k string) *hsObject {
	for _, o := range h.objects[typ] {
		if !o.Archived && o.Props["external_id"] == k {
			return o
		}
	}
	return nil
}

func (h *hubspotLike) create(typ string, props map[string]string) *hsObject {
	h.next++
	o := &hsObject{ID: strconv.Itoa(h.next), Props: props}
	if h.objects[typ] == nil {
		h.objects[typ] = map[string]*hsObject{}
	}
	h.objects[typ][o.ID] = o
	return o
}

// view is o with only the properties asked for (and hs_object_id).
func view(o *hsObject, asked string) map[string]any {
	props := map[string]string{"hs_object_id": o.ID}
	for _, p := range strings.Split(asked, ",") {
		if v, ok := o.Props[p]; ok {
			props[p] = v
		}
	}
	return map[string]any{"id": o.ID, "properties": props, "archived": o.Archived,
		"createdAt": "2026-01-02T03:04:05.000Z", "updatedAt": "2026-01-02T03:04:05.000Z"}
}

func (h *hubspotLike) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+h.token {
		hsError(w, 401, "INVALID_AUTHENTICATION", "bad token")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/crm/v3/objects/")
	if !ok {
		hsError(w, 404, "OBJECT_NOT_FOUND", "no such endpoint")
		return
	}
	parts := strings.Split(rest, "/")
	typ := parts[0]
	body, _ := io.ReadAll(r.Body)
	var in struct {
		Properties json.RawMessage `json:"properties"`
		Inputs     []struct {
			IDProperty string          `json:"idProperty"`
			ID         string          `json:"id"`
			Properties json.RawMessage `json:"properties"`
		} `json:"inputs"`
	}
	if len(body) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			hsError(w, 400, "VALIDATION_ERROR", "body: "+err.Error())
			return
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	route := r.Method + " " + typ
	if len(parts) > 1 {
		route += "/" + map[bool]string{true: "batch/upsert", false: "{id}"}[len(parts) == 3 && parts[1] == "batch"]
	}
	h.reqs[route]++
	switch {
	case r.Method == http.MethodPost && len(parts) == 1:
		props, err := stringProps(in.Properties)
		if err != nil {
			hsError(w, 400, "VALIDATION_ERROR", err.Error())
			return
		}
		if h.byExternal(typ, props["external_id"]) != nil {
			hsError(w, 409, "CONFLICT", "an object with external_id "+props["external_id"]+" exists")
			return
		}
		hsJSON(w, 201, view(h.create(typ, props), "external_id"))
	case r.Method == http.MethodPost && len(parts) == 3 && parts[1] == "batch" && parts[2] == "upsert":
		if len(in.Inputs) == 0 || len(in.Inputs) > 100 {
			hsError(w, 400, "VALIDATION_ERROR", "1 to 100 inputs")
			return
		}
		var results, errs []any
		for _, it := range in.Inputs {
			props, err := stringProps(it.Properties)
			if err == nil && it.IDProperty != "external_id" {
				err = fmt.Errorf("idProperty %q is not a unique property", it.IDProperty)
			}
			if err == nil && strings.Contains(props["email"], "invalid") {
				err = fmt.Errorf("Property values were not valid: email %q", props["email"])
			}
			if c, ok := props["associatedcompanyid"]; err == nil && ok {
				if co := h.objects["companies"][c]; co == nil || co.Archived {
					err = fmt.Errorf("associatedcompanyid %s: no such company", c)
				}
			}
			if err != nil {
				errs = append(errs, map[string]any{"status": "error", "category": "VALIDATION_ERROR", "message": err.Error(),
					"context": map[string][]string{"ids": {it.ID}}})
				continue
			}
			o := h.byExternal(typ, it.ID)
			if o == nil {
				props["external_id"] = it.ID
				o = h.create(typ, props)
			} else {
				for k, v := range props {
					o.Props[k] = v
				}
			}
			results = append(results, view(o, "external_id"))
		}
		status := 200
		if len(errs) > 0 {
			status = 207
		}
		hsJSON(w, status, map[string]any{"status": "COMPLETE", "results": results, "errors": errs, "numErrors": len(errs)})
	case r.Method == http.MethodGet && len(parts) == 1:
		limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
		if err != nil || limit < 1 || limit > 100 {
			hsError(w, 400, "VALIDATION_ERROR", "limit: 1 to 100")
			return
		}
		var ids []int
		for id, o := range h.objects[typ] {
			n, _ := strconv.Atoi(id)
			if after, _ := strconv.Atoi(r.URL.Query().Get("after")); n > after && !o.Archived {
				ids = append(ids, n)
			}
		}
		slices.Sort(ids)
		page := map[string]any{}
		if len(ids) > limit {
			page["paging"] = map[string]any{"next": map[string]any{"after": strconv.Itoa(ids[limit-1])}}
			ids = ids[:limit]
		}
		results := []any{}
		for _, n := range ids {
			results = append(results, view(h.objects[typ][strconv.Itoa(n)], r.URL.Query().Get("properties")))
		}
		page["results"] = results
		hsJSON(w, 200, page)
	case len(parts) == 2:
		var o *hsObject
		if r.Method == http.MethodGet && r.URL.Query().Get("idProperty") == "external_id" {
			o = h.byExternal(typ, parts[1])
		} else if r.URL.Query().Has("idProperty") {
			hsError(w, 400, "VALIDATION_ERROR", "idProperty must be a unique property")
			return
		} else if x := h.objects[typ][parts[1]]; x != nil && !x.Archived {
			o = x
		}
		if o == nil {
			hsError(w, 404, "OBJECT_NOT_FOUND", "no such object")
			return
		}
		switch r.Method {
		case http.MethodGet:
			hsJSON(w, 200, view(o, r.URL.Query().Get("properties")))
		case http.MethodPatch:
			props, err := stringProps(in.Properties)
			if err != nil {
				hsError(w, 400, "VALIDATION_ERROR", err.Error())
				return
			}
			for k, v := range props {
				o.Props[k] = v
			}
			hsJSON(w, 200, view(o, "external_id"))
		case http.MethodDelete:
			o.Archived = true
			w.WriteHeader(204)
		default:
			hsError(w, 405, "VALIDATION_ERROR", "method")
		}
	default:
		hsError(w, 404, "OBJECT_NOT_FOUND", "no such endpoint")
	}
}

// all is every object of typ whose external_id is k, archived included.
func (h *hubspotLike) all(typ, k string) []hsObject {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hsObject
	for _, o := range h.objects[typ] {
		if o.Props["external_id"] == k {
			out = append(out, *o)
		}
	}
	return out
}

// TestExampleHubspotLike: examples/partners/hubspot-like.yaml against a
// server of that shape: companies created one by one and patched by the
// CRM's id, contacts through the batch upsert carrying their company's id
// as a string property, one contact refused by its batch item alone, a
// deleted contact archived; one record a key, a clean reconcile (numbers
// that came back as strings included), a preview.
func TestExampleHubspotLike(t *testing.T) {
	const token = "pat-na1-0123456789abcdef"
	crm := newHubspotLike(token)
	hs := httptest.NewServer(crm)
	t.Cleanup(hs.Close)
	events := []ev{
		{ID: "h1", Account: "a1", Entity: "companies", Key: "co-1", Op: "upsert", Version: 1, Data: `{"name":"Acme","domain":"acme.test","numberofemployees":120}`},
		{ID: "h2", Account: "a2", Entity: "companies", Key: "co-2", Op: "upsert", Version: 1, Data: `{"name":"Globex","numberofemployees":7}`},
		{ID: "h3", Account: "a1", Entity: "contacts", Key: "ct-1", Op: "upsert", Version: 1, Data: `{"email":"li@acme.test","firstname":"Li","age":31}`, ParentEntity: "companies", ParentKey: "co-1"},
		{ID: "h4", Account: "a2", Entity: "contacts", Key: "ct-2", Op: "upsert", Version: 1, Data: `{"email":"han@globex.test","firstname":"Han"}`, ParentEntity: "companies", ParentKey: "co-2"},
		{ID: "h5", Account: "a3", Entity: "contacts", Key: "ct-3", Op: "upsert", Version: 1, Data: `{"email":"invalid","firstname":"Bad"}`},
		{ID: "h6", Account: "a1", Entity: "companies", Key: "co-1", Op: "upsert", Version: 2, Data: `{"name":"Acme Corp","domain":"acme.test","numberofemployees":1.5e2}`},
		{ID: "h7", Account: "a4", Entity: "contacts", Key: "ct-4", Op: "upsert", Version: 1, Data: `{"email":"gone@example.com","age":40}`},
		{ID: "h8", Account: "a4", Entity: "contacts", Key: "ct-4", Op: "delete", Version: 2},
		{ID: "h9", Account: "a1", Entity: "contacts", Key: "ct-1", Op: "upsert", Version: 2, Data: `{"email":"li@acme.test","firstname":"Lei","age":32}`, ParentEntity: "companies", ParentKey: "co-1"},
	}
	secrets := map[string]string{"CRM_TOKEN": token}
	_, _, env := runExample(t, exampleRun{profile: "hubspot-like.yaml", baseURL: hs.URL, secrets: secrets, events: events, dead: 1})

	one := func(typ, key string) hsObject {
		t.Helper()
		os := crm.all(typ, key)
		if len(os) != 1 {
			t.Fatalf("%s/%s: %d objects at the partner, want 1: %+v", typ, key, len(os), os)
		}
		return os[0]
	}
	co1, co2 := one("companies", "co-1"), one("companies", "co-2")
	if co1.Props["name"] != "Acme Corp" || co1.Props["numberofemployees"] != "150" {
		t.Errorf("co-1 at the partner: %v, want version 2's properties as strings", co1.Props)
	}
	if ct1 := one("contacts", "ct-1"); ct1.Props["associatedcompanyid"] != co1.ID || ct1.Props["firstname"] != "Lei" {
		t.Errorf("ct-1 at the partner: %v, want version 2 under co-1's id %s", ct1.Props, co1.ID)
	}
	if ct2 := one("contacts", "ct-2"); ct2.Props["associatedcompanyid"] != co2.ID {
		t.Errorf("ct-2's associatedcompanyid %q, want co-2's id %s", ct2.Props["associatedcompanyid"], co2.ID)
	}
	if !one("contacts", "ct-4").Archived {
		t.Error("ct-4 was deleted, and is not archived at the partner")
	}
	if n := len(crm.all("contacts", "ct-3")); n != 0 {
		t.Errorf("ct-3 was refused, and the partner has %d of it", n)
	}
	crm.mu.Lock()
	reqs := fmt.Sprint(crm.reqs)
	batched, single := crm.reqs["POST contacts/batch/upsert"], crm.reqs["POST contacts"]
	crm.mu.Unlock()
	if batched == 0 || single != 0 {
		t.Errorf("contacts did not go through the batch upsert: %s", reqs)
	}

	reconcileClean(t, env, map[string][]ourRecord{
		"companies": {{"co-1", "a1", 2, `{"name":"Acme Corp","domain":"acme.test","numberofemployees":150}`}, {"co-2", "a2", 1, `{"name":"Globex","numberofemployees":7}`}},
		"contacts":  {{"ct-1", "a1", 2, `{"email":"li@acme.test","firstname":"Lei","age":32}`}, {"ct-2", "a2", 1, `{"email":"han@globex.test","firstname":"Han"}`}},
	})
	previewShows(t, env, events[:1], secrets, "POST "+hs.URL+"/crm/v3/objects/companies", "Authorization: Bearer <redacted>",
		`"numberofemployees": "120"`, "/crm/v3/objects/companies/co-1?idProperty=external_id")
}
