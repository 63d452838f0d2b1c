package profile

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/event"
)

func hubProfile(t testing.TB) *Profile {
	t.Helper()
	p, err := Parse([]byte(hub), "hub.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func contactEvent() event.Event {
	return event.Event{ID: "evt-9", Account: "acc-1", Entity: "contact", Key: "c/1", Op: event.OpUpsert, Version: 7,
		Data: json.RawMessage(`{"name":"Li Lei"}`)}
}

// Each op of an entity whose partner assigns ids renders its own request;
// {partner_id} comes from the ids given, path-escaped, and .partner_id is
// in the body's input.
func TestRenderOp(t *testing.T) {
	p := hubProfile(t)
	e := contactEvent()
	tests := []struct {
		op                    Op
		ids                   IDs
		method, url, body, ik string
	}{
		{OpCreate, IDs{}, "POST", "https://api.hub.example/contacts", `{"external_id":"c/1","name":"Li Lei"}`, "Idempotency-Key"},
		{OpUpdate, IDs{Self: "p 42"}, "PATCH", "https://api.hub.example/contacts/p%2042", `{"name":"Li Lei"}`, ""},
		{OpDelete, IDs{Self: "p-42"}, "DELETE", "https://api.hub.example/contacts/p-42", ``, ""},
		{OpFind, IDs{}, "GET", "https://api.hub.example/contacts?external_id=c%2F1", ``, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.op), func(t *testing.T) {
			r, err := p.RenderOp(tt.op, e, tt.ids)
			if err != nil {
				t.Fatal(err)
			}
			if r.Method != tt.method || r.URL != tt.url || string(r.Body) != tt.body || r.Idempotency != tt.ik {
				t.Fatalf("got %s %s %s (idempotency %q)", r.Method, r.URL, r.Body, r.Idempotency)
			}
		})
	}
	if _, err := p.RenderOp(OpUpsert, e, IDs{}); !errors.Is(err, ErrNoRequest) {
		t.Errorf("upsert of an entity with create/update: %v, want ErrNoRequest", err)
	}
	if _, err := p.RenderOp(OpUpdate, e, IDs{}); err == nil || !strings.Contains(err.Error(), "{partner_id}: the event has no such value") {
		t.Errorf("update without a partner id: %v", err)
	}

	deal := event.Event{ID: "evt-10", Account: "acc-1", Entity: "deal", Key: "d1", Op: event.OpUpsert, Version: 1,
		ParentEntity: "contact", ParentKey: "c/1", Data: json.RawMessage(`{"amount":12.5}`)}
	r, err := p.RenderOp(OpUpsert, deal, IDs{Parent: "p-42"})
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Body) != `{"amount":12.5,"contact":"p-42"}` {
		t.Errorf("child body %s", r.Body)
	}
	// Render is RenderOp with the event's op and no ids.
	r, err = p.Render(deal)
	if err != nil || string(r.Body) != `{"amount":12.5,"contact":null}` || r.Method != "PUT" {
		t.Errorf("Render: %s %s %v", r.Method, r.Body, err)
	}
}

// The partner's id of a created record comes from the create's jq over the
// body or from Location's last segment; find's from its jq. Numbers become
// their decimal text; null, "" and no result are not found.
func TestCreatedID(t *testing.T) {
	p := hubProfile(t)
	loc, err := Parse([]byte(strings.Replace(hub, "      id: .data.id\n", "      id_from: location\n", 1)), "hub.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		p     *Profile
		op    Op
		loc   string
		body  string
		id    string
		found bool
		err   string
	}{
		{"jq string", p, OpCreate, "", `{"data":{"id":"ab-1"}}`, "ab-1", true, ""},
		{"jq large number", p, OpCreate, "", `{"data":{"id":12345678901234567890}}`, "12345678901234567890", true, ""},
		{"jq number", p, OpCreate, "", `{"data":{"id":42}}`, "42", true, ""},
		{"jq null", p, OpCreate, "", `{"data":{}}`, "", false, ""},
		{"jq empty", p, OpCreate, "", `{"data":{"id":""}}`, "", false, ""},
		{"jq object", p, OpCreate, "", `{"data":{"id":{}}}`, "", false, "an id must be a string or a number"},
		{"not json", p, OpCreate, "", `<html>`, "", false, "not JSON"},
		{"location", loc, OpCreate, "https://api.hub.example/contacts/p%2F9?x=1", ``, "p/9", true, ""},
		{"relative location", loc, OpCreate, "/contacts/p-9/", ``, "p-9", true, ""},
		{"no location", loc, OpCreate, "", ``, "", false, ""},
		{"find", p, OpFind, "", `{"results":[{"id":7}]}`, "7", true, ""},
		{"find none", p, OpFind, "", `{"results":[]}`, "", false, ""},
		{"not an id op", p, OpUpdate, "", `{}`, "", false, "CreatedID is for create and find"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.loc != "" {
				h.Set("Location", tt.loc)
			}
			id, found, err := tt.p.CreatedID("contact", tt.op, h, []byte(tt.body))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || id != tt.id || found != tt.found {
				t.Fatalf("got %q %v %v, want %q %v", id, found, err, tt.id, tt.found)
			}
		})
	}
	if _, _, err := p.CreatedID("deal", OpCreate, http.Header{}, []byte(`{}`)); !errors.Is(err, ErrNoRequest) {
		t.Errorf("create of an upsert entity: %v", err)
	}
}

// A number float64 cannot hold exactly (most decimals) keeps the digits it
// was written with through a body that passes it on.
func TestBodyKeepsTheDigitsOfNumbers(t *testing.T) {
	p, err := Parse([]byte(`name: n
base_url: http://x
defaults:
  upsert: {method: PUT, path: "/r/{key}", body: '{fields: .data, total: .data.f}'}
  delete: {method: DELETE, path: "/r/{key}"}
`), "n.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := event.Event{ID: "e", Account: "a", Entity: "x", Key: "k", Op: event.OpUpsert, Version: 1,
		Data: json.RawMessage(`{"big":12345678901234567890.5,"f":1.0000000000000001,"pi":3.14159265358979323846,"n":1.10,"i":12345678901234567890123}`)}
	r, err := p.RenderOp(OpUpsert, e, IDs{})
	if err != nil {
		t.Fatal(err)
	}
	// data passed through unchanged is the event's bytes; a number taken
	// out of it keeps its digits
	want := `{"fields":` + string(e.Data) + `,"total":1.0000000000000001}`
	if string(r.Body) != want {
		t.Fatalf("body %s\nwant %s", r.Body, want)
	}
	// data changed by the program is encoded anew, its numbers still as written
	p2, err := Parse([]byte(`name: n
base_url: http://x
defaults:
  upsert: {method: PUT, path: "/r/{key}", body: '{fields: (.data | del(.i))}'}
  delete: {method: DELETE, path: "/r/{key}"}
`), "n.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err = p2.RenderOp(OpUpsert, e, IDs{})
	if err != nil {
		t.Fatal(err)
	}
	want = `{"fields":{"big":12345678901234567890.5,"f":1.0000000000000001,"n":1.10,"pi":3.14159265358979323846}}`
	if string(r.Body) != want {
		t.Fatalf("changed data: body %s\nwant %s", r.Body, want)
	}
}
