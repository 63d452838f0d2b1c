package partnersim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func hmacOpts(o *Options) {
	o.CRM.Auth, o.CRM.AppKey, o.CRM.Secret = CRMAuthHMAC, "app-1", "s3cret"
}

func TestCRMCanonicalQuery(t *testing.T) {
	tests := []struct {
		name  string
		query url.Values
		want  string
	}{
		{"none", nil, ""},
		{"sorted by name, then value", url.Values{"b": {"2"}, "a": {"y", "x"}}, "a=x&a=y&b=2"},
		{"RFC 3986: space %20, reserved and UTF-8 escaped, unreserved kept", url.Values{"q": {"a b/c+d~e.f_g-h"}, "é": {"李"}}, "q=a%20b%2Fc%2Bd~e.f_g-h&%C3%A9=%E6%9D%8E"},
		{"empty value", url.Values{"k": {""}}, "k="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CRMCanonicalQuery(tt.query); got != tt.want {
				t.Fatalf("%q, want %q", got, tt.want)
			}
		})
	}
}

// CRMSign follows the documented string to sign, computed here by hand.
func TestCRMSignKnownAnswer(t *testing.T) {
	body := []byte(`{"external_id":"k"}`)
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write([]byte("GET\n/crm/v2/contact\nlimit=5&offset=10\n1767323045\nn-1\n" + string(body)))
	want := hex.EncodeToString(m.Sum(nil))
	got := CRMSign("s3cret", "GET", "/crm/v2/contact", url.Values{"offset": {"10"}, "limit": {"5"}}, "1767323045", "n-1", body)
	if got != want {
		t.Fatalf("%s, want %s", got, want)
	}
}

func TestCRMHMAC(t *testing.T) {
	body := `{"owner":"acc","external_id":"k-1","fields":{"seat":"A3","name":"Li Lei"}}`
	tests := []struct {
		name  string
		alter func(c *crmSim, req *http.Request)
		ok    bool
	}{
		{"signed as documented", func(*crmSim, *http.Request) {}, true},
		{"upper-case hex", func(_ *crmSim, req *http.Request) {
			req.Header.Set(CRMSignHeader, strings.ToUpper(req.Header.Get(CRMSignHeader)))
		}, true},
		{"timestamp at the edge of the window", func(c *crmSim, req *http.Request) { resign(c, req, -300*time.Second, "") }, true},
		{"body re-encoded after signing", func(_ *crmSim, req *http.Request) {
			var buf bytes.Buffer
			_ = json.Indent(&buf, []byte(body), "", "  ")
			setBody(req, buf.Bytes())
		}, false},
		{"body with keys reordered after signing", func(_ *crmSim, req *http.Request) {
			var m map[string]any
			_ = json.Unmarshal([]byte(body), &m)
			b, _ := json.Marshal(m) // sorted keys: another byte string, the same JSON value
			setBody(req, b)
		}, false},
		{"query added after signing", func(_ *crmSim, req *http.Request) { req.URL.RawQuery = "x=1" }, false},
		{"wrong secret", func(c *crmSim, req *http.Request) { c.secret = "other"; resign(c, req, 0, "") }, false},
		{"unknown app key", func(_ *crmSim, req *http.Request) { req.Header.Set(CRMAppKeyHeader, "app-2") }, false},
		{"timestamp too old", func(c *crmSim, req *http.Request) { resign(c, req, -301*time.Second, "") }, false},
		{"timestamp too far ahead", func(c *crmSim, req *http.Request) { resign(c, req, 301*time.Second, "") }, false},
		{"timestamp not a number", func(_ *crmSim, req *http.Request) { req.Header.Set(CRMTimestampHeader, "now") }, false},
		{"no nonce", func(c *crmSim, req *http.Request) { resign(c, req, 0, "-") }, false},
		{"no signature", func(_ *crmSim, req *http.Request) { req.Header.Del(CRMSignHeader) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startCRM(t, hmacOpts)
			req := c.request(http.MethodPost, "/crm/v2/contact", body, nil)
			tt.alter(c, req)
			r := c.send(req)
			if tt.ok != (r.code() == 0) || r.status != http.StatusOK {
				t.Fatalf("%d %s, want accepted %v", r.status, r.raw, tt.ok)
			}
			if !tt.ok && (r.code() != CRMCodeAuth || r.body["msg"] != "bad signature") {
				t.Fatalf("%s: want 200 {\"code\":40100,\"msg\":\"bad signature\"}", r.raw)
			}
			if n := len(c.srv.CRMRecords("contact", "")); n != map[bool]int{true: 1, false: 0}[tt.ok] {
				t.Fatalf("%d records after the call", n)
			}
		})
	}
}

func TestCRMHMACNonceReuse(t *testing.T) {
	c := startCRM(t, hmacOpts)
	req := c.request(http.MethodGet, "/crm/v2/contact?offset=0&limit=5", "", nil)
	replay := req.Clone(req.Context())
	if r := c.send(req); r.code() != 0 {
		t.Fatalf("first: %s", r.raw)
	}
	if r := c.send(replay); r.code() != CRMCodeAuth {
		t.Fatalf("the same nonce again: %s, want 40100", r.raw)
	}
	// Past the window the nonce is forgotten, but the timestamp is too old.
	c.clock.Add(301 * time.Second)
	replay = req.Clone(req.Context())
	if r := c.send(replay); r.code() != CRMCodeAuth {
		t.Fatalf("replayed after the window: %s", r.raw)
	}
	if r := c.call(http.MethodGet, "/crm/v2/contact/c_000001", "", nil); r.code() != CRMCodeNotFound {
		t.Fatalf("a fresh call after the window: %s (want it signed and checked, then not found)", r.raw)
	}
}

func TestCRMAPIKey(t *testing.T) {
	c := startCRM(t, func(o *Options) { o.CRM.Auth, o.CRM.APIKey = CRMAuthAPIKey, "key-1" })
	if r := c.call(http.MethodGet, "/crm/v2/contact", "", nil); r.code() != 0 {
		t.Fatalf("with the key: %s", r.raw)
	}
	for _, key := range []string{"key-2", ""} {
		r := c.call(http.MethodGet, "/crm/v2/contact", "", map[string]string{CRMAPIKeyHeader: key})
		if r.status != http.StatusOK || r.code() != CRMCodeAuth {
			t.Fatalf("key %q: %d %s", key, r.status, r.raw)
		}
	}
}

func TestCRMAuthOptions(t *testing.T) {
	for _, o := range []CRMOptions{{Auth: "oauth"}, {Auth: CRMAuthAPIKey}, {Auth: CRMAuthHMAC, AppKey: "a"}, {Auth: CRMAuthHMAC, Secret: "s"}} {
		if _, err := New(Options{CRM: o}); err == nil {
			t.Errorf("New took %+v", o)
		}
	}
}

// resign signs req again with the sim's credentials, its timestamp moved by
// skew; nonce "-" leaves the nonce out.
func resign(c *crmSim, req *http.Request, skew time.Duration, nonce string) {
	ts := c.clock.Now().Add(skew).Unix()
	if nonce == "" {
		nonce = "n-resigned"
	}
	body, _ := io.ReadAll(req.Body)
	setBody(req, body)
	if nonce == "-" {
		nonce = ""
		req.Header.Del(CRMNonceHeader)
	} else {
		req.Header.Set(CRMNonceHeader, nonce)
	}
	tsText := strconv.FormatInt(ts, 10)
	req.Header.Set(CRMTimestampHeader, tsText)
	req.Header.Set(CRMSignHeader, CRMSign(c.secret, req.Method, req.URL.EscapedPath(), req.URL.Query(), tsText, nonce, body))
}

func setBody(req *http.Request, b []byte) {
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.ContentLength = int64(len(b))
}

// The worked example of docs/partnersim-crm.md.
func TestCRMSignDocExample(t *testing.T) {
	got := CRMSign("s3cret", "GET", "/crm/v2/contact", url.Values{"offset": {"10"}, "limit": {"5"}}, "1767323045", "n-1", nil)
	if got != "afdfe569972e5a776b461a634565004522d3bdcdb6fe44edc84e285efd42e7c3" {
		t.Fatalf("X-Sign %s differs from the documented example", got)
	}
}
