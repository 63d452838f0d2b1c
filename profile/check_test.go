package profile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hub is a partner that assigns its own ids: a contact is created by POST,
// then changed and deleted by the partner's id; a deal needs its parent
// contact's partner id.
const hub = `name: hub
base_url: https://api.hub.example
versions: time
limits:
  rate: 20
  concurrency: 4
  timeout: 5s
auth:
  kind: api_key
  key: k-0123456789
  header: X-Api-Key
defaults:
  delete:
    method: DELETE
    path: /{entity}/{key}
entities:
  contact:
    create:
      method: POST
      path: /contacts
      body: '{external_id: .key, name: .data.name}'
      id: .data.id
      idempotency_header: Idempotency-Key
    update:
      method: PATCH
      path: /contacts/{partner_id}
      body: '{name: .data.name}'
    delete:
      method: DELETE
      path: /contacts/{partner_id}
    find:
      method: GET
      path: /contacts
      query:
        external_id: "{key}"
      id: .results[0].id
  deal:
    upsert:
      method: PUT
      path: /deals/{key}
      body: '{contact: .parent.partner_id, amount: .data.amount}'
`

// Every mistake in a write, a limit, the versions or the auth stops the
// profile with an error naming the profile, the setting's path and its
// line.
func TestCheckWritesNamesSettingAndLine(t *testing.T) {
	tests := []struct {
		name, old, new, want string
	}{
		{"bad versions", "versions: time", "versions: date", "profile hub: versions (line 3): must be none, number or time"},
		{"negative rate", "rate: 20", "rate: -1", "profile hub: limits.rate (line 5): must be 0"},
		{"negative concurrency", "concurrency: 4", "concurrency: -4", "profile hub: limits.concurrency (line 6): must be 0"},
		{"bad timeout", "timeout: 5s", "timeout: five", "profile hub: limits.timeout (line 7): must be a duration"},
		{"upsert and create", "  contact:\n    create:", "  contact:\n    upsert: {method: PUT, path: \"/c/{key}\"}\n    create:", "profile hub: entities.contact.upsert (line 18): an entity has upsert"},
		{"create without update", "    update:\n      method: PATCH\n      path: /contacts/{partner_id}\n      body: '{name: .data.name}'\n", "", "profile hub: entities.contact.update (line 17): required with create"},
		{"update without partner id", "path: /contacts/{partner_id}\n      body", "path: /contacts/x\n      body", "profile hub: entities.contact.update (line 24): must use the partner's id"},
		{"create without id", "      id: .data.id\n", "", "profile hub: entities.contact.create.id (line 18): required: how the partner's id is read"},
		{"bad id_from", "      id: .data.id\n", "      id_from: header\n", "profile hub: entities.contact.create.id_from (line 22): must be \"location\""},
		{"bad id jq", "id: .data.id", "id: .data.id[", "profile hub: entities.contact.create.id (line 22): jq:"},
		{"find without id", "      id: .results[0].id\n", "", "profile hub: entities.contact.find.id (line 31): required"},
		{"find on an upsert entity", "      body: '{contact: .parent.partner_id, amount: .data.amount}'\n", "      body: '{contact: .parent.partner_id, amount: .data.amount}'\n    find: {method: GET, path: /deals, id: .id}\n", "profile hub: entities.deal.find (line 42): only for an entity whose partner assigns ids"},
		{"partner id in a create", "path: /contacts\n      body", "path: /contacts/{partner_id}\n      body", "profile hub: entities.contact.create.path (line 20): {partner_id} is known only in update"},
		{"partner id in an upsert", "path: /deals/{key}", "path: /deals/{partner_id}", "profile hub: entities.deal.upsert.path (line 40): {partner_id} is known only"},
		{"partner id in a find", `external_id: "{key}"`, `external_id: "{partner_id}"`, "profile hub: entities.contact.find.query (line 34): {partner_id} is known only"},
		{"partner id in an upsert entity's delete", "    path: /{entity}/{key}", "    path: /{entity}/{partner_id}", "profile hub: entities.deal.delete.path (line 37): {partner_id} is known only"},
		{"unknown auth kind", "kind: api_key", "kind: apikey", "profile hub: auth.kind (line 9): must be one of none, oauth2"},
		{"api key in both places", "  header: X-Api-Key\n", "  header: X-Api-Key\n  query: key\n", "profile hub: auth.header (line 11): an api_key goes in a header or in the query"},
		{"api key without key", "  key: k-0123456789\n", "", "profile hub: auth.key (line 8): required"},
		{"api key from a missing variable", "key: k-0123456789", "key: env:PROFILE_TEST_NO_SUCH_VAR", "profile hub: auth.key (line 10): environment variable PROFILE_TEST_NO_SUCH_VAR is not set"},
		{"api key from a missing file", "key: k-0123456789", "key: file:/nonexistent/key", "profile hub: auth.key (line 10): secret file: open /nonexistent/key"},
		{"no upsert", "    upsert:\n      method: PUT\n      path: /deals/{key}\n", "    delete:\n      method: DELETE\n      path: /deals/{key}\n", "profile hub: entities.deal.upsert (line 37): no request for upserts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(hub, tt.old) {
				t.Fatalf("the profile has no %q", tt.old)
			}
			_, err := Parse([]byte(strings.Replace(hub, tt.old, tt.new, 1)), "hub.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tt.want)
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Profile != "hub" || pe.Line == 0 {
				t.Fatalf("err %v is not an *Error naming the profile and a line", err)
			}
		})
	}
}

func TestCheckAcceptsHub(t *testing.T) {
	p, err := Parse([]byte(hub), "hub.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !p.AssignsIDs("contact") || p.AssignsIDs("deal") || p.AssignsIDs("other") {
		t.Error("AssignsIDs: contact yes, deal and an entity without a section no")
	}
	if !p.NeedsParentID("deal") || p.NeedsParentID("contact") {
		t.Error("NeedsParentID: deal yes (its body reads .parent.partner_id), contact no")
	}
	if p.Versions() != "time" {
		t.Errorf("versions %q", p.Versions())
	}
	rate, burst, conc, timeout := p.Limits()
	if rate != 20 || burst != 2 || conc != 4 || timeout.String() != "5s" {
		t.Errorf("limits %v %d %d %v", rate, burst, conc, timeout)
	}
	q, err := Parse([]byte("name: n\nbase_url: https://x.example\n"), "n")
	if err != nil {
		t.Fatal(err)
	}
	if q.Versions() != "number" {
		t.Errorf("default versions %q", q.Versions())
	}
	if r, b, c, to := q.Limits(); r != 0 || b != 0 || c != 0 || to != 0 {
		t.Errorf("no limits: %v %d %d %v", r, b, c, to)
	}
}

// The parent's partner id is known in any request, placeholder or jq.
func TestNeedsParentID(t *testing.T) {
	for _, tt := range []struct {
		upsert string
		want   bool
	}{
		{"{method: PUT, path: '/deals/{key}', body: '{c: .parent.partner_id}'}", true},
		{"{method: PUT, path: '/deals/{key}', body: '{c: .parent | .partner_id}'}", true},
		{"{method: PUT, path: '/contacts/{parent.partner_id}/deals/{key}'}", true},
		{"{method: PUT, path: '/deals/{key}', headers: {X-Parent: '{parent.partner_id}'}}", true},
		{"{method: PUT, path: '/deals/{key}', body: '{c: .parent.key}'}", false},
	} {
		y := "name: n\nbase_url: https://x.example\nentities:\n  deal:\n    delete: {method: DELETE, path: '/d/{key}'}\n    upsert: " + tt.upsert + "\n"
		p, err := Parse([]byte(y), "n")
		if err != nil {
			t.Fatal(err)
		}
		if got := p.NeedsParentID("deal"); got != tt.want {
			t.Errorf("%s: NeedsParentID = %v", tt.upsert, got)
		}
	}
}

// An entity's own upsert replaces the defaults' create and update, and the
// reverse: an entity inherits one kind of writes whole.
func TestMergeKeepsOneKindOfWrites(t *testing.T) {
	y := `name: n
base_url: https://x.example
defaults:
  create: {method: POST, path: '/{entity}', id: .id}
  update: {method: PATCH, path: '/{entity}/{partner_id}'}
  delete: {method: DELETE, path: '/{entity}/{partner_id}'}
entities:
  contact:
    headers: {X-A: "1"}
  note:
    upsert: {method: PUT, path: '/notes/{key}'}
    delete: {method: DELETE, path: '/notes/{key}'}
`
	p, err := Parse([]byte(y), "n")
	if err != nil {
		t.Fatal(err)
	}
	if !p.AssignsIDs("contact") || p.AssignsIDs("note") || !p.AssignsIDs("other") {
		t.Error("contact and other inherit create/update; note has its own upsert")
	}
}

func TestSecretsFromEnvAndFile(t *testing.T) {
	t.Setenv("PROFILE_TEST_HUB_KEY", "env-key-0123456789")
	t.Setenv("PROFILE_TEST_EMPTY", "")
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte("file-secret-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(hub, "key: k-0123456789", "key: env:PROFILE_TEST_HUB_KEY", 1)
	p, err := Parse([]byte(y), "hub.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Secrets(); len(s) != 1 || s[0] != "env-key-0123456789" {
		t.Fatalf("secrets %q", s)
	}
	basic := strings.Replace(hub, "  kind: api_key\n  key: k-0123456789\n  header: X-Api-Key\n", "  kind: basic\n  username: svc\n  password: file:"+file+"\n", 1)
	p, err = Parse([]byte(basic), "hub.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Secrets(); len(s) != 2 || s[0] != "file-secret-0123456789" || s[1] != "svc:file-secret-0123456789" {
		t.Fatalf("secrets %q", s)
	}
	_, err = Parse([]byte(strings.Replace(hub, "key: k-0123456789", "key: env:PROFILE_TEST_EMPTY", 1)), "hub.yaml")
	if err == nil || !strings.Contains(err.Error(), "auth.key (line 10): environment variable PROFILE_TEST_EMPTY is empty") {
		t.Fatalf("empty variable: %v", err)
	}
}
