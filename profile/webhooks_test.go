package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// The built-in profile maps the built-in API's record.changed webhook to
// one change in our shape, a deleted record to a delete, and any other
// type of notification to none.
func TestBuiltInWebhookChanges(t *testing.T) {
	p, err := BuiltIn(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.HasWebhooks() || p.WebhookScheme() != WebhookSchemeStandard {
		t.Fatalf("built-in: webhooks %v, scheme %q", p.HasWebhooks(), p.WebhookScheme())
	}
	for _, tc := range []struct {
		name, body string
		want       string // the changes, as JSON
	}{
		{"upsert", `{"type":"record.changed","timestamp":"2026-12-07T10:00:00Z","data":{"entity":"contact","key":"k1","account":"a1","version":17,"data":{"name":"Li Lei"},"deleted":false}}`,
			`[{"Entity":"contact","Key":"k1","Account":"a1","Version":17,"Data":{"name":"Li Lei"},"Deleted":false,"ParentEntity":"","ParentKey":""}]`},
		{"delete", `{"type":"record.changed","timestamp":"2026-12-07T10:00:00Z","data":{"entity":"contact","key":"k1","account":"a1","version":18,"data":null,"deleted":true}}`,
			`[{"Entity":"contact","Key":"k1","Account":"a1","Version":18,"Data":null,"Deleted":true,"ParentEntity":"","ParentKey":""}]`},
		{"another type", `{"type":"ping","timestamp":"2026-12-07T10:00:00Z"}`, `[]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.WebhookChanges([]byte(tc.body), 0)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			if string(b) != tc.want {
				t.Errorf("changes:\n got %s\nwant %s", b, tc.want)
			}
		})
	}
}

const hookProfile = `name: hooks
base_url: https://api.example/
versions: time
defaults:
  upsert: {method: PUT, path: "/x/{key}"}
  delete: {method: DELETE, path: "/x/{key}"}
entities:
  contact:
    read:
      get: {path: "/contacts/{key}"}
      list: {path: /contacts}
      paging: {kind: offset}
      item: '{key: .external_id, account: .tenant, version: .updated_at, deleted: (.status == "archived"), data: {name: .full_name}}'
webhooks:
  changes: '[.events[] | {entity: .object, item: .record}]'
  max_changes: 2
`

// A webhook's records map by their entity's read.item, the same program
// that maps what reads and polls list; what does not map is an error
// naming the change, and nothing is returned.
func TestWebhookChangesMapAndRefuse(t *testing.T) {
	p := mustParse(t, hookProfile)
	rec := func(key, status string) string {
		return fmt.Sprintf(`{"external_id":%q,"tenant":"t1","updated_at":"2026-12-07T10:00:00Z","status":%q,"full_name":"N"}`, key, status)
	}
	got, err := p.WebhookChanges([]byte(`{"events":[{"object":"contact","record":`+rec("c1", "active")+`},{"object":"contact","record":`+rec("c2", "archived")+`}]}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key != "c1" || got[0].Account != "t1" || got[0].Version != 1796637600000 || string(got[0].Data) != `{"name":"N"}` || got[0].Deleted ||
		got[1].Key != "c2" || !got[1].Deleted || got[1].Data != nil {
		t.Errorf("changes: %+v", got)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"not JSON", `{"events":`, "not one JSON value"},
		{"not an array", `{"events":[]} `, ""},
		{"too many", `{"events":[{"object":"contact","record":` + rec("a", "") + `},{"object":"contact","record":` + rec("b", "") + `},{"object":"contact","record":` + rec("c", "") + `}]}`, "3 changes, at most 2"},
		{"no read section", `{"events":[{"object":"invoice","record":` + rec("a", "") + `}]}`, "webhooks.changes[0]: entity invoice has no read section"},
		{"bad entity", `{"events":[{"object":"Bad Name","record":{}}]}`, "webhooks.changes[0]: entity is \"Bad Name\""},
		{"item without key", `{"events":[{"object":"contact","record":{"tenant":"t"}}]}`, "webhooks.changes[0]: entity contact: read.item: key is null"},
		{"no item", `{"events":[{"object":"contact"}]}`, "no item"},
		{"jq error", `{"events":3}`, "webhooks.changes: jq:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.WebhookChanges([]byte(tc.body), 0)
			if tc.want == "" {
				if err != nil || len(got) != 0 {
					t.Fatalf("got %v, %v; want no change", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || got != nil {
				t.Fatalf("got %v, %v; want an error with %q", got, err, tc.want)
			}
		})
	}
	if _, err := mustParse(t, strings.Replace(hookProfile, "webhooks:\n  changes: '[.events[] | {entity: .object, item: .record}]'\n  max_changes: 2\n", "", 1)).WebhookChanges([]byte(`{}`), 0); !errors.Is(err, ErrNoWebhooks) {
		t.Errorf("a profile without webhooks: %v, want ErrNoWebhooks", err)
	}
}

// The webhooks section is checked at start-up; its errors name the setting
// and its line.
func TestWebhooksChecked(t *testing.T) {
	for _, tc := range []struct{ name, section, want string }{
		{"no changes", "webhooks:\n  scheme: standard\n", "profile hooks: webhooks.changes (line 14): required"},
		{"bad jq", "webhooks:\n  changes: '[.x'\n", "profile hooks: webhooks.changes (line 15): jq:"},
		{"bad scheme", "webhooks:\n  changes: '[]'\n  scheme: svix\n", "profile hooks: webhooks.scheme (line 16): must be standard or profile"},
		{"profile without hmac", "webhooks:\n  changes: '[]'\n  scheme: profile\n", "webhooks.scheme (line 16): profile verifies a webhook by auth.hmac"},
		{"negative max", "webhooks:\n  changes: '[]'\n  max_changes: -1\n", "webhooks.max_changes (line 16): must be positive"},
		{"misspelt", "webhooks:\n  change: '[]'\n", "webhooks.change"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := hookProfile[:strings.Index(hookProfile, "webhooks:")] + tc.section
			_, err := Parse([]byte(src), "test")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	hmac := strings.Replace(hookProfile, "versions: time\n", "versions: time\nauth: {kind: hmac, hmac: {secret: s3cret-key-0123, string_to_sign: \"{timestamp}.{body}\", sign_header: X-Sign, headers: {X-Ts: \"{timestamp}\"}}}\n", 1)
	hmac = strings.Replace(hmac, "max_changes: 2\n", "scheme: profile\n", 1)
	if p := mustParse(t, hmac); p.WebhookScheme() != WebhookSchemeProfile {
		t.Errorf("scheme %q, want profile", p.WebhookScheme())
	}
	noTs := strings.Replace(hmac, `, headers: {X-Ts: "{timestamp}"}`, "", 1)
	if _, err := Parse([]byte(noTs), "test"); err == nil || !strings.Contains(err.Error(), "webhooks.scheme (line 17): profile needs auth.hmac to send {timestamp}") {
		t.Errorf("scheme profile without a timestamp header: %v", err)
	}
}

// The crm example maps partnersim's crm webhook (the record as the crm's
// GET answers it) by read.item: a change, an archived record as a delete,
// and any other type of notification as none.
func TestCRMExampleWebhookChanges(t *testing.T) {
	t.Setenv("CRM_APP_SECRET", "crm-secret-for-tests")
	p, err := Load("../examples/partners/crm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !p.HasWebhooks() || p.WebhookScheme() != WebhookSchemeStandard {
		t.Fatalf("crm: webhooks %v, scheme %q", p.HasWebhooks(), p.WebhookScheme())
	}
	rec := func(archived bool) string {
		return fmt.Sprintf(`{"id":"c_000123","external_id":"r-42","owner":"acc-7","fields":{"name":"Li Lei"},"updated_at":"2026-01-02T11:04:06+08:00","archived":%t}`, archived)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"change", `{"type":"record.changed","timestamp":"2026-01-02T03:04:06Z","data":{"object":"contact","deleted":false,"record":` + rec(false) + `}}`,
			`[{"Entity":"contact","Key":"r-42","Account":"acc-7","Version":0,"Data":{"name":"Li Lei"},"Deleted":false,"ParentEntity":"","ParentKey":""}]`},
		{"archived", `{"type":"record.changed","timestamp":"2026-01-02T03:04:07Z","data":{"object":"contact","deleted":true,"record":` + rec(true) + `}}`,
			`[{"Entity":"contact","Key":"r-42","Account":"acc-7","Version":0,"Data":null,"Deleted":true,"ParentEntity":"","ParentKey":""}]`},
		{"another type", `{"type":"ping"}`, `[]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.WebhookChanges([]byte(tc.body), 0)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := json.Marshal(got); string(b) != tc.want {
				t.Errorf("changes:\n got %s\nwant %s", b, tc.want)
			}
		})
	}
}
