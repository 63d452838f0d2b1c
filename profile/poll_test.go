package profile

import (
	"strings"
	"testing"
	"time"
)

const pollProfile = `name: sim
base_url: http://sim.example
versions: number
defaults:
  upsert: {method: PUT, path: "/v1/{entity}/{key}"}
  delete: {method: DELETE, path: "/v1/{entity}/{key}"}
  read:
    get: {path: "/v1/{entity}/{key}"}
    list: {path: "/v1/{entity}"}
    paging: {kind: cursor, param: cursor, next: .next_cursor, size: 2, size_param: limit}
    items: .items
    item: '{key, account, version, data, parent}'
    since: {param: updated_since, updated: .updated_at}
entities:
  order:
    read:
      since: {param: changed_from, format: rfc3339, updated: .changed}
`

// A listing of changes asks for them since a moment, in the entity's own
// format, and reads each item's updated time (RFC 3339 or unix ms) and its
// parent; the position it reached resumes a fresh pager at the next page.
func TestChangesPager(t *testing.T) {
	p := mustParse(t, pollProfile)
	since := time.UnixMilli(1767319445006)
	pg, err := p.ChangesPager("contact", since)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := pg.Request()
	if want := "http://sim.example/v1/contact?limit=2&updated_since=1767319445006"; r.URL != want {
		t.Fatalf("first page %s, want %s", r.URL, want)
	}
	got, err := pg.ChangesPage(nil, []byte(`{"items":[
		{"key":"a","account":"x","version":3,"data":{},"updated_at":"2026-01-02T03:04:05.5+01:00","parent":{"entity":"company","key":"c1"}},
		{"key":"b","account":"x","version":4,"data":{},"updated_at":1767319445999}],"next_cursor":"Yg"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Updated != 1767319445500 || got[0].ParentKey != "c1" || got[0].ParentEntity != "company" || got[0].Version != 3 ||
		got[1].Updated != 1767319445999 || got[1].ParentKey != "" {
		t.Fatalf("changes %+v", got)
	}
	pos := pg.Position()
	if pos != "c:Yg" {
		t.Fatalf("position %q", pos)
	}
	fresh, _ := p.ChangesPager("contact", since)
	if err := fresh.Resume(pos); err != nil {
		t.Fatal(err)
	}
	if r, _ := fresh.Request(); !strings.Contains(r.URL, "cursor=Yg") || !strings.Contains(r.URL, "updated_since=1767319445006") {
		t.Fatalf("resumed page %s", r.URL)
	}
	if err := fresh.Resume("o:2:00"); err == nil {
		t.Fatal("an offset position resumed a cursor list")
	}

	order, _ := p.ChangesPager("order", since)
	if r, _ := order.Request(); !strings.Contains(r.URL, "changed_from=2026-01-02T02%3A04%3A05Z") {
		t.Fatalf("rfc3339 since: %s", r.URL)
	}
	if _, err := order.ChangesPage(nil, []byte(`{"items":[{"key":"o1","data":{}}]}`)); err == nil || !strings.Contains(err.Error(), "read.since.updated of o1") {
		t.Fatalf("an item without its updated time: %v", err)
	}
	if s, _ := p.FormatSince("order", since); s != "2026-01-02T02:04:05Z" {
		t.Fatalf("rounded down to the second: %s", s)
	}
}

// An offset listing's position carries the last page's signature, so a
// partner that ignores the offset is caught across resumes too.
func TestChangesPositionOffset(t *testing.T) {
	src := strings.Replace(pollProfile, "kind: cursor, param: cursor, next: .next_cursor,", "kind: offset,", 1)
	p := mustParse(t, src)
	pg, _ := p.ChangesPager("contact", time.UnixMilli(0))
	_, _ = pg.Request()
	page := []byte(`{"items":[{"key":"a","data":{},"updated_at":1},{"key":"b","data":{},"updated_at":2}]}`)
	if _, err := pg.ChangesPage(nil, page); err != nil {
		t.Fatal(err)
	}
	fresh, _ := p.ChangesPager("contact", time.UnixMilli(0))
	if err := fresh.Resume(pg.Position()); err != nil {
		t.Fatal(err)
	}
	if r, _ := fresh.Request(); !strings.HasSuffix(r.URL, "offset=2&updated_since=0") {
		t.Fatalf("resumed %s", r.URL)
	}
	if _, err := fresh.ChangesPage(nil, page); err == nil || !strings.Contains(err.Error(), "same records") {
		t.Fatalf("the same page again after a resume: %v", err)
	}
}

// read.since is checked with the rest, each problem naming its setting and
// line; versions: time needs no updated program.
func TestCheckSince(t *testing.T) {
	bad := strings.NewReplacer("since: {param: updated_since, updated: .updated_at}", "since: {format: iso, updated: '.x |'}",
		"param: changed_from, format: rfc3339, updated: .changed", "param: cursor").Replace(pollProfile)
	_, err := Parse([]byte(bad), "test")
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"defaults.read.since.param (line 13): required", "defaults.read.since.format (line 13)", "defaults.read.since.updated (line 13): jq",
		"entities.order.read.since.param (line 17): \"cursor\" is the paging's own parameter", "entities.order.read.since.updated (line 17): required unless versions is time"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	timed := strings.NewReplacer("versions: number", "versions: time", "since: {param: updated_since, updated: .updated_at}", "since: {param: updated_since}").Replace(pollProfile)
	p := mustParse(t, timed)
	if !p.CanPoll("contact") || !p.CanPoll("anything") {
		t.Fatal("an entity with read.since cannot be polled")
	}
	pg, _ := p.ChangesPager("contact", time.UnixMilli(0))
	_, _ = pg.Request()
	got, err := pg.ChangesPage(nil, []byte(`{"items":[{"key":"a","data":{},"version":"2026-01-02T02:04:05Z"}]}`))
	if err != nil || len(got) != 1 || got[0].Updated != 1767319445000 {
		t.Fatalf("versions: time gives the updated time: %+v %v", got, err)
	}
	noSince := mustParse(t, strings.Replace(pollProfile, "    since: {param: updated_since, updated: .updated_at}\n", "", 1))
	if noSince.CanPoll("contact") || !noSince.CanPoll("order") {
		t.Fatal("CanPoll follows read.since")
	}
}

// The built-in profile and the crm example can be polled.
func TestBuiltInPolls(t *testing.T) {
	p, err := BuiltIn(Options{})
	if err != nil {
		t.Fatal(err)
	}
	pg, err := p.ChangesPager("contact", time.UnixMilli(42))
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := pg.Request(); r.URL != "http://127.0.0.1:8081/v1/contact?limit=1000&updated_since=42" {
		t.Fatalf("built-in: %s", r.URL)
	}
	t.Setenv("CRM_APP_SECRET", "crm-secret-for-tests")
	crm, err := Load("../examples/partners/crm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := crm.FormatSince("contact", time.UnixMilli(1767319445006)); s != "2026-01-02T02:04:05Z" || !crm.CanPoll("company") {
		t.Fatalf("crm: %s", s)
	}
}
