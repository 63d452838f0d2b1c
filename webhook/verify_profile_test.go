package webhook

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/profile"
)

// With scheme profile, a webhook signed the way the partner's profile
// signs our calls (auth.hmac) is taken, once per nonce; one signed
// otherwise, or too old, is answered 401.
func TestProfileScheme(t *testing.T) {
	src := strings.Replace(testProfile, "defaults:\n", `auth:
  kind: hmac
  hmac:
    secret: s3cret-key-0123
    string_to_sign: "{method}\n{path}\n{timestamp}\n{nonce}\n{body}"
    sign_header: X-Sign
    headers: {X-Ts: "{timestamp}", X-Nonce: "{nonce}"}
defaults:
`, 1)
	src = strings.Replace(src, "webhooks:\n", "webhooks:\n  scheme: profile\n", 1)
	p, err := profile.Parse([]byte(src), "test")
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, func(c *Config) {
		c.Partners["erp"] = Partner{Profile: p, SeenKey: c.Partners["erp"].SeenKey}
	})
	send := func(body, nonce string, at time.Time, tamper bool) int {
		req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/partners/erp/webhooks", strings.NewReader(body))
		if err := p.Authorize(req, []byte(body), at, nonce); err != nil {
			t.Fatal(err)
		}
		if tamper {
			req.Header.Set("X-Sign", strings.Repeat("0", 64))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := send(`{"test": 1}`, "n-1", e.now, false); st != 200 {
		t.Errorf("signed by the profile: %d", st)
	}
	if st := send(`{"test": 1}`, "n-1", e.now, false); st != 200 || len(e.app.taken()) != 1 {
		t.Errorf("the same nonce again: %d, appended %d, want 200 once", st, len(e.app.taken()))
	}
	if st := send(`{"test": 2}`, "n-2", e.now, true); st != 401 || e.refused("erp", ReasonBadSignature) != 1 {
		t.Errorf("a wrong signature: %d", st)
	}
	if st := send(`{"test": 2}`, "n-3", e.now.Add(-10*time.Minute), false); st != 401 || e.refused("erp", ReasonStaleTimestamp) != 1 {
		t.Errorf("ten minutes old: %d", st)
	}
}
