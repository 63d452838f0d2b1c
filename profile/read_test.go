package profile

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
)

const crmRead = `name: crm
base_url: https://api.crm.example/v2/
versions: time
defaults:
  create: {method: POST, path: /x, id: .id}
  update: {method: PATCH, path: "/x/{partner_id}"}
  delete: {method: DELETE, path: "/x/{partner_id}"}
entities:
  contact:
    read:
      get: {path: "/contacts/{partner_id}"}
      list: {path: /contacts, query: {tenant: "{account}"}}
      paging: {kind: offset, size: 2, size_param: limit}
      items: .results
      item: '{key: .external_id, account: .tenant, version: .updated_at, deleted: (.status == "archived"), data: {name: .full_name, seats: .seats}}'
    compare:
      fields: [name, seats, since]
      times: [since]
`

func mustParse(t *testing.T, src string) *Profile {
	t.Helper()
	p, err := Parse([]byte(src), "test")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A list page's items come out in our shape: the key from the partner's
// own field, an RFC 3339 version as unix ms, archived items as deleted;
// offset paging asks for the next offset until a short page.
func TestReadItemsAndOffset(t *testing.T) {
	p := mustParse(t, crmRead)
	pg, err := p.Pager("contact", "acc 1")
	if err != nil {
		t.Fatal(err)
	}
	r, err := pg.Request()
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://api.crm.example/v2/contacts?tenant=acc+1&limit=2&offset=0"; r.URL != want {
		t.Fatalf("first page %s, want %s", r.URL, want)
	}
	items, err := pg.Page(nil, []byte(`{"results":[
		{"external_id":"k1","tenant":"acc 1","updated_at":"2026-01-02T03:04:05.006+01:00","status":"active","full_name":"A","seats":1.10},
		{"external_id":7,"tenant":"acc 1","updated_at":"2026-01-02T02:04:05Z","status":"archived","full_name":"B"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Key != "k1" || items[0].Version != 1767319445006 || items[0].Deleted || items[0].Account != "acc 1" {
		t.Fatalf("item 0: %+v", items[0])
	}
	if items[1].Key != "7" || !items[1].Deleted || items[1].Version != 1767319445000 {
		t.Fatalf("item 1: %+v", items[1])
	}
	if pg.Done() {
		t.Fatal("a full page is not the last")
	}
	if r, _ = pg.Request(); !strings.HasSuffix(r.URL, "offset=2") {
		t.Fatalf("second page %s", r.URL)
	}
	if _, err := pg.Page(nil, []byte(`{"results":[{"external_id":"k3","updated_at":"2026-01-02T02:04:05Z","full_name":"C"}]}`)); err != nil {
		t.Fatal(err)
	}
	if !pg.Done() {
		t.Fatal("a short page is the last")
	}
	// A point read needs the partner's id.
	if _, err := p.RenderGet("contact", "k1", ""); err == nil {
		t.Fatal("get without a partner id rendered")
	}
	g, err := p.RenderGet("contact", "k1", "id/9")
	if err != nil || g.URL != "https://api.crm.example/v2/contacts/id%2F9" || g.Method != http.MethodGet {
		t.Fatalf("get %+v %v", g, err)
	}
}

// A version that is not an RFC 3339 time, an item with no key: errors that
// say which.
func TestReadItemErrors(t *testing.T) {
	p := mustParse(t, crmRead)
	pg, _ := p.Pager("contact", "")
	_, _ = pg.Request()
	if _, err := pg.Page(nil, []byte(`{"results":[{"external_id":"k1","updated_at":"yesterday","full_name":"A"}]}`)); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
		t.Fatalf("bad time: %v", err)
	}
	if _, err := pg.Page(nil, []byte(`{"results":[{"updated_at":"2026-01-02T02:04:05Z"}]}`)); err == nil || !strings.Contains(err.Error(), "key") {
		t.Fatalf("no key: %v", err)
	}
}

// Cursors and links that come back end the listing with an error, never a
// loop; a relative next link resolves against the page that gave it, and a
// link elsewhere is refused.
func TestPagingLoopsAndLinks(t *testing.T) {
	src := `name: p
base_url: https://api.example/v1
defaults:
  upsert: {method: PUT, path: "/x/{key}"}
  delete: {method: DELETE, path: "/x/{key}"}
  read:
    get: {path: "/x/{key}"}
    list: {path: /x}
    paging: {kind: KIND, param: cursor, next: .next}
    items: .items
`
	p := mustParse(t, strings.Replace(src, "KIND", "cursor", 1))
	pg, _ := p.Pager("x", "")
	_, _ = pg.Request()
	body := []byte(`{"items":[{"key":"a","data":{}}],"next":"c1"}`)
	if _, err := pg.Page(nil, body); err != nil {
		t.Fatal(err)
	}
	if r, _ := pg.Request(); !strings.HasSuffix(r.URL, "/x?cursor=c1") {
		t.Fatalf("cursor page %s", r.URL)
	}
	if _, err := pg.Page(nil, body); !errors.Is(err, ErrPagingLoop) {
		t.Fatalf("repeated cursor: %v", err)
	}

	p = mustParse(t, strings.Replace(strings.Replace(src, "KIND", "next_link", 1), "param: cursor, ", "", 1))
	pg, _ = p.Pager("x", "")
	_, _ = pg.Request()
	if _, err := pg.Page(nil, []byte(`{"items":[],"next":"x?after=5"}`)); err != nil {
		t.Fatal(err)
	}
	if r, _ := pg.Request(); r.URL != "https://api.example/v1/x?after=5" {
		t.Fatalf("relative link resolved to %s", r.URL)
	}
	if _, err := pg.Page(nil, []byte(`{"items":[],"next":"https://evil.example/v1/x"}`)); err == nil {
		t.Fatal("a link to another origin was followed")
	}
}

// RFC 8288 Link headers: several links, quoted parameters holding commas,
// several relations, other parameters first.
func TestNextLink(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{`<https://a/x?page=2>; rel="next", <https://a/x?page=9>; rel="last"`}, "https://a/x?page=2"},
		{[]string{`<https://a/x?page=1>; rel="prev"`, `</x?page=3>; title="a, b; c"; rel="next last"`}, "/x?page=3"},
		{[]string{`<https://a/x?p=1>; rel=first, <https://a/x?p=2>;rel=NEXT`}, "https://a/x?p=2"},
		{[]string{`<https://a/x?page=9>; rel="last"`}, ""},
		{nil, ""},
	} {
		if got := NextLink(c.in); got != c.want {
			t.Errorf("NextLink(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Formatting never shows as a difference: numbers by value, key order,
// times as instants on a compare.times field; a real difference still
// differs, and fields not compared are ignored.
func TestHashEquality(t *testing.T) {
	p := mustParse(t, crmRead)
	h := func(s string) string { return p.Hash("contact", json.RawMessage(s)) }
	same := [][2]string{
		{`{"name":"A","seats":1.10}`, `{"seats":1.1,"name":"A"}`},
		{`{"name":"A","seats":1.1}`, `{"name":"A","seats":11e-1}`},
		{`{"name":"A","seats":1e2}`, `{"name":"A","seats":100}`},
		{`{"name":"A","seats":-0}`, `{"name":"A","seats":0.0}`},
		{`{"name":"A","since":"2026-01-02T03:04:05+01:00"}`, `{"name":"A","since":"2026-01-02T02:04:05Z"}`},
		{`{"name":"A","other":1}`, `{"name":"A","other":2}`},
		{`{"name":"A","seats":null}`, `{"name":"A"}`},
	}
	for _, c := range same {
		if h(c[0]) != h(c[1]) {
			t.Errorf("%s and %s hash apart", c[0], c[1])
		}
	}
	differ := [][2]string{
		{`{"name":"A","seats":1.1}`, `{"name":"A","seats":1.11}`},
		{`{"name":"A","seats":100}`, `{"name":"A","seats":10}`},
		{`{"name":"A","since":"2026-01-02T03:04:05+01:00"}`, `{"name":"A","since":"2026-01-02T03:04:05Z"}`},
		{`{"name":"A","since":"soon"}`, `{"name":"A","since":"Soon"}`},
		{`{"name":"A","seats":"1"}`, `{"name":"A","seats":1}`},
		{`{"name":"A"}`, `{"name":"B"}`},
	}
	for _, c := range differ {
		if h(c[0]) == h(c[1]) {
			t.Errorf("%s and %s hash alike", c[0], c[1])
		}
	}
	// Nested objects: key order ignored at every depth; a time outside
	// compare.times is text.
	q := mustParse(t, `name: q
base_url: https://a.example
defaults:
  upsert: {method: PUT, path: "/x/{key}"}
  delete: {method: DELETE, path: "/x/{key}"}
`)
	if q.Hash("x", json.RawMessage(`{"a":{"b":1,"c":[{"d":1.0,"e":2}]}}`)) != q.Hash("x", json.RawMessage(`{"a":{"c":[{"e":2,"d":1}],"b":1}}`)) {
		t.Error("nested key order or numbers showed")
	}
	if q.Hash("x", json.RawMessage(`{"t":"2026-01-02T03:04:05+01:00"}`)) == q.Hash("x", json.RawMessage(`{"t":"2026-01-02T02:04:05Z"}`)) {
		t.Error("a field not in compare.times was compared as a time")
	}
}

func TestCanonicalNumber(t *testing.T) {
	for in, want := range map[string]string{"1.10": "11e-1", "11e-1": "11e-1", "100": "1e2", "1E2": "1e2", "-0": "0", "0.000": "0",
		"-12.50": "-125e-1", "0.001": "1e-3", "12345678901234567890123": "12345678901234567890123e0", "1e999999999999999999999": "1e999999999999999999999", "-1e999999999999999999999": "-1e999999999999999999999"} {
		if got := canonicalNumber(in); got != want {
			t.Errorf("canonicalNumber(%s) = %s, want %s", in, got, want)
		}
	}
}

// Read settings that are wrong stop the profile, naming the field.
func TestReadCheck(t *testing.T) {
	bad := strings.NewReplacer("kind: offset", "kind: scroll", "{partner_id}", "{owner}", "item: '{", "item: '{{").Replace(crmRead)
	_, err := Parse([]byte(bad), "test")
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"entities.contact.read.paging.kind (line", "entities.contact.read.get.path", "unknown placeholder {owner}", "entities.contact.read.item"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	cursor := strings.Replace(crmRead, "kind: offset, size: 2, size_param: limit", "kind: cursor", 1)
	if _, err := Parse([]byte(cursor), "test"); err == nil || !strings.Contains(err.Error(), "read.paging.next") || !strings.Contains(err.Error(), "read.paging.param") {
		t.Fatalf("cursor without next and param: %v", err)
	}
}

// A get whose answer wraps the record ({"data": {…}}) is read by get_item;
// null there is "not there".
func TestGetItemUnwraps(t *testing.T) {
	p := mustParse(t, `name: w
base_url: http://x
versions: none
defaults:
  upsert: {method: PUT, path: "/r/{key}"}
  delete: {method: DELETE, path: "/r/{key}"}
  read:
    get: {path: "/r/{key}"}
    list: {path: /r}
    paging: {kind: page, param: page}
    items: .data.rows
    get_item: .data
    item: '{key: .code, data: {name: .name}}'
`)
	it, found, err := p.ParseGet("x", "k1", []byte(`{"ok":true,"data":{"code":"k1","name":"Ann"}}`))
	if err != nil || !found || it.Key != "k1" || string(it.Data) != `{"name":"Ann"}` {
		t.Fatalf("wrapped get: %+v %v %v", it, found, err)
	}
	if _, found, err := p.ParseGet("x", "k1", []byte(`{"ok":true,"data":null}`)); err != nil || found {
		t.Fatalf("data null: found %v, %v", found, err)
	}
}

// A field compared case-insensitively is equal in any case; the others
// still differ by case.
func TestHashCaseInsensitive(t *testing.T) {
	p := mustParse(t, `name: c
base_url: http://x
defaults:
  upsert: {method: PUT, path: "/r/{key}"}
  delete: {method: DELETE, path: "/r/{key}"}
  compare:
    fields: [email, name]
    case_insensitive: [email]
`)
	a := p.Hash("x", []byte(`{"email":"Ann@Example.COM","name":"Ann"}`))
	if b := p.Hash("x", []byte(`{"email":"ann@example.com","name":"Ann"}`)); a != b {
		t.Fatal("email differs by case only, and is not equal")
	}
	if b := p.Hash("x", []byte(`{"email":"ann@example.com","name":"ANN"}`)); a == b {
		t.Fatal("name differs by case, and is equal")
	}
}
