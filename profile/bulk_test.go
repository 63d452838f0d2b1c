package profile

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/event"
)

const bulkProfile = `name: batch
base_url: https://api.batch.example
defaults:
  delete: {method: DELETE, path: '/{entity}/{key}'}
entities:
  contact:
    upsert: {method: PUT, path: '/contacts/{key}', body: '.data'}
    bulk:
      size: 3
      linger: 20ms
      request:
        method: POST
        path: /{entity}/batch
        idempotency_header: Idempotency-Key
        body: '{inputs: map({external_id: .key, owner: .parent.partner_id, props: .data})}'
      results: .results
`

func batchEvents() []event.Event {
	var out []event.Event
	for i, k := range []string{"a", "b", "c"} {
		out = append(out, event.Event{ID: "evt-" + k, Account: "acc-" + k, Entity: "contact", Key: k, Op: event.OpUpsert,
			Version: int64(i + 1), ParentEntity: "company", ParentKey: "co", Data: json.RawMessage(`{"n":` + string(rune('1'+i)) + `}`)})
	}
	return out
}

func TestRenderBulk(t *testing.T) {
	p, err := Parse([]byte(bulkProfile), "batch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	size, linger, ok := p.Bulk("contact")
	if !ok || size != 3 || linger != 20*time.Millisecond {
		t.Fatalf("Bulk = %d %v %v", size, linger, ok)
	}
	if _, _, ok := p.Bulk("other"); ok {
		t.Fatal("an entity without bulk")
	}
	if !p.NeedsParentID("contact") {
		t.Fatal("the bulk body reads .parent.partner_id")
	}
	r, err := p.RenderBulk("contact", batchEvents(), []IDs{{Parent: "p1"}, {}, {Parent: "p3"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"inputs":[{"external_id":"a","owner":"p1","props":{"n":1}},{"external_id":"b","owner":null,"props":{"n":2}},{"external_id":"c","owner":"p3","props":{"n":3}}]}`
	if r.Method != "POST" || r.URL != "https://api.batch.example/contact/batch" || string(r.Body) != want || r.Idempotency != "Idempotency-Key" {
		t.Fatalf("got %s %s %s %q", r.Method, r.URL, r.Body, r.Idempotency)
	}
	if _, err := p.RenderBulk("contact", append(batchEvents(), batchEvents()[0]), nil); err == nil {
		t.Fatal("a batch larger than the size")
	}
	if _, err := p.RenderBulk("other", batchEvents(), nil); !errors.Is(err, ErrNoRequest) {
		t.Fatalf("no bulk: %v", err)
	}
}

// Results map back to the batch's items in order, or by match (a key or
// an event id); an item with no result is never taken as delivered.
func TestBulkResults(t *testing.T) {
	inOrder, err := Parse([]byte(bulkProfile), "batch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	byMatch, err := Parse([]byte(strings.Replace(bulkProfile, "      results: .results\n", "      results: .results[]\n      match: .ref\n", 1)), "batch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	missing := ItemResult{Error: "the partner's answer has no result for this item"}
	tests := []struct {
		name string
		p    *Profile
		body string
		want []ItemResult
		err  string
	}{
		{"in order", inOrder, `{"results":[{"ok":true,"id":11},{"ok":false,"status":422,"error":"bad name"},{"status":201,"id":"x3"}]}`,
			[]ItemResult{{OK: true, ID: "11"}, {Status: 422, Error: "bad name"}, {OK: true, ID: "x3", Status: 201}}, ""},
		{"fewer results", inOrder, `{"results":[{"ok":true}]}`, []ItemResult{{OK: true}, missing, missing}, ""},
		{"more results", inOrder, `{"results":[{"ok":true},{"ok":true},{"ok":true},{"ok":true}]}`, nil, "4 results for 3 items"},
		{"not json", inOrder, `oops`, nil, "not JSON"},
		{"by match", byMatch, `{"results":[{"ref":"c","ok":true,"id":3},{"ref":"evt-a","ok":false,"status":409,"error":"parent"},{"ref":"zz","ok":true}]}`,
			[]ItemResult{{Status: 409, Error: "parent"}, missing, {OK: true, ID: "3"}}, ""},
		{"neither ok nor status", inOrder, `{"results":[{},{"ok":true},{"ok":"yes"}]}`,
			[]ItemResult{{Error: "the result has neither ok nor status"}, {OK: true}, {Error: "(ok must be true or false, is yes)"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.BulkResults("contact", []byte(tt.body), batchEvents())
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v", got)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("item %d: %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestBulkChecks(t *testing.T) {
	tests := []struct{ name, old, new, want string }{
		{"size", "size: 3", "size: 1001", "profile batch: entities.contact.bulk.size (line 9): must be 1 to 1000"},
		{"linger", "linger: 20ms", "linger: soon", "entities.contact.bulk.linger (line 10): must be a duration"},
		{"no results", "      results: .results\n", "", "entities.contact.bulk.results (line 8): required"},
		{"bad match", "      results: .results\n", "      results: .results\n      match: .ref[\n", "entities.contact.bulk.match (line 17): jq:"},
		{"no body", "        body: '{inputs: map({external_id: .key, owner: .parent.partner_id, props: .data})}'\n", "", "entities.contact.bulk.request.body (line 11): required"},
		{"a record's placeholder", "path: /{entity}/batch", "path: /{entity}/batch/{account}", "entities.contact.bulk.request.path (line 13): unknown placeholder {account}"},
		{"no request", "      request:\n        method: POST\n        path: /{entity}/batch\n        idempotency_header: Idempotency-Key\n        body: '{inputs: map({external_id: .key, owner: .parent.partner_id, props: .data})}'\n", "", "entities.contact.bulk.request (line 8): required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(bulkProfile, tt.old) {
				t.Fatalf("no %q", tt.old)
			}
			_, err := Parse([]byte(strings.Replace(bulkProfile, tt.old, tt.new, 1)), "batch.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant %q", err, tt.want)
			}
		})
	}
}
