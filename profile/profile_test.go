package profile

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/event"
)

const crm = `name: crm
base_url: https://api.crm.example/v2/
defaults:
  headers:
    X-Api-Version: "2"
  delete:
    method: DELETE
    path: /{entity}/{key}
entities:
  contact:
    query:
      tenant: "{account}"
    upsert:
      method: put
      path: /contacts/{key}
      headers:
        X-Request-Id: "{id}"
      body: '{external_id: .key, name: .data.name, seats: (.data.seats // 0), company: .parent.key}'
`

func event1() event.Event {
	return event.Event{ID: "evt-1", Account: "acc 7", Entity: "contact", Key: "k/1 ..", Op: event.OpUpsert, Version: 3,
		ParentEntity: "company", ParentKey: "c-9", Data: json.RawMessage(`{"name":"Li Lei","id":12345678901234567890123}`)}
}

// A profile renders an event into the request it describes: placeholders
// path-escaped in the path and query-escaped in the query, defaults and an
// entity's own headers merged, the body built by jq, large numbers kept.
func TestRender(t *testing.T) {
	p, err := Parse([]byte(crm), "crm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Render(event1())
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != "PUT" || r.URL != "https://api.crm.example/v2/contacts/k%2F1%20..?tenant=acc+7" {
		t.Fatalf("request %s %s", r.Method, r.URL)
	}
	if r.Headers["X-Api-Version"] != "2" || r.Headers["X-Request-Id"] != "evt-1" {
		t.Fatalf("headers %v", r.Headers)
	}
	if string(r.Body) != `{"company":"c-9","external_id":"k/1 ..","name":"Li Lei","seats":0}` {
		t.Fatalf("body %s", r.Body)
	}

	del := event1()
	del.Op, del.Data, del.Entity = event.OpDelete, nil, "invoice"
	r, err = p.Render(del)
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != "DELETE" || r.URL != "https://api.crm.example/v2/invoice/k%2F1%20.." || r.Body != nil {
		t.Fatalf("delete of an entity without a section: %s %s %s", r.Method, r.URL, r.Body)
	}
	up := event1()
	up.Entity = "invoice"
	if _, err := p.Render(up); !errors.Is(err, ErrNoRequest) {
		t.Fatalf("upsert with no request: %v", err)
	}
}

func TestBodyKeepsLargeNumbers(t *testing.T) {
	p, err := Parse([]byte("name: n\nbase_url: https://x.example\ndefaults:\n  upsert: {method: POST, path: /r, body: '{id: .data.id}'}\n  delete: {method: DELETE, path: '/r/{key}'}\n"), "n")
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Render(event1())
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Body) != `{"id":12345678901234567890123}` {
		t.Fatalf("body %s", r.Body)
	}
}

// Every mistake stops the profile with an error naming the profile, the
// setting and its line.
func TestCheckNamesSettingAndLine(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"bad jq", strings.Replace(crm, "(.data.seats // 0)", "(.data.seats //", 1), "profile crm: entities.contact.upsert.body (line 18): jq:"},
		{"unknown placeholder", strings.Replace(crm, "/contacts/{key}", "/contacts/{partner_idd}", 1), "profile crm: entities.contact.upsert.path (line 15): unknown placeholder {partner_idd}"},
		{"bad method", strings.Replace(crm, "method: put", "method: PUTT", 1), "profile crm: entities.contact.upsert.method (line 14): must be one of"},
		{"unknown setting", strings.Replace(crm, "    query:", "    qeury:", 1), `profile crm: entities.contact.qeury (line 11): unknown setting "qeury"`},
		{"no delete", strings.Replace(crm, "  delete:\n    method: DELETE\n    path: /{entity}/{key}\n", "", 1), "profile crm: entities.contact.delete (line 7): no request for this op"},
		{"no base url", strings.Replace(crm, "base_url: https://api.crm.example/v2/\n", "", 1), "profile crm: base_url"},
		{"placeholder in a header", strings.Replace(crm, `"{id}"`, `"{secret}"`, 1), "profile crm: entities.contact.upsert.headers (line 16): X-Request-Id: unknown placeholder {secret}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "crm.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// A body program with no result, or several, is an error at render time;
// so is a path placeholder the event has no value for.
func TestRenderErrors(t *testing.T) {
	base := "name: n\nbase_url: https://x.example\ndefaults:\n  delete: {method: DELETE, path: '/r/{key}'}\n  upsert: {method: POST, path: '%s', body: '%s'}\n"
	for _, tt := range []struct{ path, body, want string }{
		{"/r", "empty", "no result"},
		{"/r", ".data.a, .data.b", "more than one result"},
		{"/r/{data.missing}", ".", "{data.missing}: the event has no such value"},
	} {
		p, err := Parse([]byte(sprintf(base, tt.path, tt.body)), "n")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Render(event1()); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %s: %v, want %q", tt.path, tt.body, err, tt.want)
		}
	}
}

func sprintf(format string, a ...any) string {
	out := format
	for _, v := range a {
		out = strings.Replace(out, "%s", v.(string), 1)
	}
	return out
}

// A misspelt setting is named with its line, in the page's words, not Go's.
func TestMisspeltSettingNamesItsLine(t *testing.T) {
	_, err := Parse([]byte("name: m\nbase_url: http://x\ndefaults:\n  upsert:\n    method: PUT\n    path: \"/r/{key}\"\n    boddy: '.'\n  delete: {method: DELETE, path: \"/r/{key}\"}\n"), "m.yaml")
	if err == nil || err.Error() != `profile m: defaults.upsert.boddy (line 7): unknown setting "boddy" (misspelt, or in the wrong section? see docs/partners.md)` {
		t.Fatalf("err %v", err)
	}
	_, err = Parse([]byte("name: m\nbase_url: http://x\nlimits:\n  concurrency: lots\n"), "m.yaml")
	if err == nil || !strings.Contains(err.Error(), "profile m: limits.concurrency (line 4): cannot unmarshal text `lots` into int") {
		t.Fatalf("a mistyped value: %v", err)
	}
}
