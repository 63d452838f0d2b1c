package main

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/partnersim"
)

// crmSim is partnersim with its crm API signing calls with HMAC.
func crmSim(t *testing.T, secret string) string {
	t.Helper()
	sim, err := partnersim.New(partnersim.Options{CRM: partnersim.CRMOptions{Auth: "hmac", AppKey: "streamsync", Secret: secret}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	return hs.URL + "/crm"
}

func writeEvents(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// partner preview prints the exact requests of a file of events through
// the crm example profile, the secret nowhere in them; partner check says
// the partner answers with good credentials and refuses bad ones, and a
// partner that does not answer is unreachable.
func TestPartnerPreviewAndCheck(t *testing.T) {
	const secret = "preview-secret-0123456789"
	base := crmSim(t, secret)
	profileFile := filepath.Join("..", "..", "examples", "partners", "crm.yaml")
	t.Setenv("CRM_APP_SECRET", secret) // a profile's env: secrets are the process's
	var env []string
	events := writeEvents(t,
		`{"id":"e-1","account":"acme","entity":"badge","key":"c/1","op":"upsert","version":3,"data":{"name":"Ann"}}`,
		`{"id":"e-2","account":"acme","entity":"badge","key":"c-2","op":"delete","version":4}`,
		`{"id":"e-3","account":"acme","entity":"badge","op":"upsert","version":4,"data":{}}`,
		`{"id":"e-4","account":"acme","entity":"contact","key":"k4","op":"upsert","version":4,"data":{"name":"Bo"}}`,
		`{"id":"e-5","account":"beta","entity":"contact","key":"k5","op":"upsert","version":4,"data":{"name":"Cy"}}`)
	out, err := cli(t, env, "partner", "preview", "--event", events, "--sink.profile", profileFile, "--sink.base_url", base, "--format", "json")
	if err == nil || !strings.Contains(err.Error(), "1 of the requests could not be built") {
		t.Fatalf("preview: err %v (the third event has no key)", err)
	}
	var reqs []previewRequest
	if err := json.Unmarshal([]byte(out), &reqs); err != nil {
		t.Fatalf("preview output %q: %v", out, err)
	}
	if strings.Contains(out, secret) {
		t.Fatalf("the secret is in the preview: %s", out)
	}
	var create, update *previewRequest
	for i := range reqs {
		switch {
		case reqs[i].Event == "e-1" && reqs[i].Op == "create":
			create = &reqs[i]
		case reqs[i].Event == "e-1" && reqs[i].Op == "update":
			update = &reqs[i]
		}
	}
	if create == nil || create.Method != "POST" || create.URL != base+"/v2/badge" || create.Headers["X-Sign"] == "" || create.Headers["X-Request-Id"] != "e-1" {
		t.Fatalf("create %+v", create)
	}
	if !strings.Contains(string(create.Body), `"external_id":"c/1"`) {
		t.Fatalf("create body %s", create.Body)
	}
	if update == nil || update.Method != "PATCH" || update.URL != base+"/v2/badge/{partner_id}" {
		t.Fatalf("update %+v", update)
	}
	var bad, batch *previewRequest
	for i := range reqs {
		switch {
		case strings.Contains(reqs[i].Event, "e-3"):
			bad = &reqs[i]
		case reqs[i].Op == "bulk":
			batch = &reqs[i]
		}
	}
	if bad == nil || !strings.Contains(bad.Error, "key") {
		t.Fatalf("the bad event's error: %+v", bad)
	}
	// contacts go through the batch upsert: one request for both accounts' events
	if batch == nil || batch.Event != "e-4,e-5" || batch.URL != base+"/v2/contact/batch_upsert" || !strings.Contains(string(batch.Body), `"external_id":"k5"`) {
		t.Fatalf("bulk %+v", batch)
	}

	out, err = cli(t, env, "partner", "check", "--entity", "contact", "--sink.profile", profileFile, "--sink.base_url", base)
	if err != nil || !strings.Contains(out, "answered") {
		t.Fatalf("check: %v\n%s", err, out)
	}
	t.Setenv("CRM_APP_SECRET", "not-the-secret-at-all")
	out, err = cli(t, env, "partner", "check", "--entity", "contact", "--sink.profile", profileFile, "--sink.base_url", base)
	if err == nil || !strings.Contains(out, "refused") || strings.Contains(out, "not-the-secret-at-all") {
		t.Fatalf("check with a bad secret: %v\n%s", err, out)
	}
	t.Setenv("CRM_APP_SECRET", secret)
	out, err = cli(t, env, "partner", "check", "--entity", "contact", "--sink.profile", profileFile, "--sink.base_url", "http://127.0.0.1:1/crm")
	if err == nil || !strings.Contains(out, "unreachable") {
		t.Fatalf("check of nothing: %v\n%s", err, out)
	}
}

// A profile error stops the commands naming the profile, the setting and
// its line; a profile's plain http:// base URL off loopback is refused like
// sink.base_url's.
func TestPartnerProfileErrorsNameTheLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: bad\nbase_url: https://partner.example\ndefaults:\n  upsert:\n    method: PUT\n    path: /r/{nope}\n    body: '{a: .key'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	events := writeEvents(t, `{"id":"e-1","account":"a","entity":"x","key":"k","op":"upsert","version":1,"data":{}}`)
	for _, args := range [][]string{
		{"partner", "preview", "--event", events, "--sink.profile", bad},
		{"run", "--sink.profile", bad},
	} {
		_, err := cli(t, nil, args...)
		if err == nil || !strings.Contains(err.Error(), "profile bad: defaults.upsert.path (line 6): unknown placeholder {nope}") ||
			!strings.Contains(err.Error(), "defaults.upsert.body (line 7): jq:") {
			t.Fatalf("%v: %v", args[:2], err)
		}
	}
	plain := filepath.Join(dir, "plain.yaml")
	if err := os.WriteFile(plain, []byte("name: plain\nbase_url: http://partner.example\ndefaults:\n  upsert: {method: PUT, path: \"/r/{key}\"}\n  delete: {method: DELETE, path: \"/r/{key}\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := cli(t, nil, "partner", "preview", "--event", events, "--sink.profile", plain)
	if err == nil || !strings.Contains(err.Error(), "plain http://") || !strings.Contains(err.Error(), "sink.allow_http") {
		t.Fatalf("plain http: %v", err)
	}
}
