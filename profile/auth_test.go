package profile

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"
)

func withAuth(t testing.TB, auth string) *Profile {
	t.Helper()
	y := "name: signed\nbase_url: https://api.erp.example/open\nauth:\n" + auth + "defaults:\n  delete: {method: DELETE, path: '/r/{key}'}\n"
	p, err := Parse([]byte(y), "signed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newRequest(t testing.TB, method, url string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var signedAt = time.Unix(1700000000, 123_000_000)

// HMAC-SHA256, hex, in a header: the string to sign holds the method, the
// escaped path, the query (the request's and hmac.query's, sorted by name
// then value, RFC 3986-encoded), the timestamp and the exact body bytes.
func TestHMACSHA256Hex(t *testing.T) {
	p := withAuth(t, `  kind: hmac
  hmac:
    secret: s3cret-0123456789
    app_key: AK1
    string_to_sign: "{method}\n{path}\n{query}\n{timestamp}\n{nonce}\n{body}"
    sign_header: X-Signature
    headers:
      X-Nonce: "{nonce}"
    query:
      app_key: "{app_key}"
      ts: "{timestamp}"
`)
	r := newRequest(t, "POST", "https://api.erp.example/open/orders/a%20b?z=2&a=1&a=0&sp=x+y&t=%2A")
	body := []byte(`{"b": 1,  "a":2}`) // as sent: not re-encoded
	if err := p.Authorize(r, body, signedAt, "n-1"); err != nil {
		t.Fatal(err)
	}
	wantQuery := "a=0&a=1&app_key=AK1&sp=x%20y&t=%2A&ts=1700000000&z=2"
	if r.URL.RawQuery != wantQuery {
		t.Fatalf("query sent %q, want %q", r.URL.RawQuery, wantQuery)
	}
	sts := "POST\n/open/orders/a%20b\n" + wantQuery + "\n1700000000\nn-1\n" + `{"b": 1,  "a":2}`
	m := hmac.New(sha256.New, []byte("s3cret-0123456789"))
	m.Write([]byte(sts))
	if got, want := r.Header.Get("X-Signature"), hex.EncodeToString(m.Sum(nil)); got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	if r.Header.Get("X-Nonce") != "n-1" {
		t.Fatalf("nonce header %q", r.Header.Get("X-Nonce"))
	}
	// The same body re-encoded signs differently: the signature covers the
	// bytes given, not their meaning.
	r2 := newRequest(t, "POST", "https://api.erp.example/open/orders/a%20b?z=2&a=1&a=0&sp=x+y&t=%2A")
	if err := p.Authorize(r2, []byte(`{"a":2,"b":1}`), signedAt, "n-1"); err != nil {
		t.Fatal(err)
	}
	if r2.Header.Get("X-Signature") == r.Header.Get("X-Signature") {
		t.Fatal("a different body gave the same signature")
	}
}

// HMAC-SHA1, base64, in the query, its secret from the environment: the
// signature parameter is appended after the signed query; timestamps in ms.
func TestHMACSHA1Base64InQuery(t *testing.T) {
	t.Setenv("PROFILE_TEST_HMAC_SECRET", "env-secret-0123456789")
	p := withAuth(t, `  kind: hmac
  hmac:
    secret: env:PROFILE_TEST_HMAC_SECRET
    algorithm: hmac-sha1
    encoding: base64
    timestamp: unix_ms
    string_to_sign: "{method}&{path}&{query}&{body_sha256}"
    sign_query: signature
    query:
      t: "{timestamp}"
`)
	r := newRequest(t, "GET", "https://api.erp.example/open/items?page=2")
	if err := p.Authorize(r, nil, signedAt, ""); err != nil {
		t.Fatal(err)
	}
	empty := sha256.Sum256(nil)
	sts := "GET&/open/items&page=2&t=1700000000123&" + hex.EncodeToString(empty[:])
	m := hmac.New(sha1.New, []byte("env-secret-0123456789"))
	m.Write([]byte(sts))
	sig := base64.StdEncoding.EncodeToString(m.Sum(nil))
	want := "page=2&t=1700000000123&signature=" + escape3986(sig)
	if r.URL.RawQuery != want {
		t.Fatalf("query %q, want %q", r.URL.RawQuery, want)
	}
	if q := r.URL.Query().Get("signature"); q != sig {
		t.Fatalf("signature %q, want %q", q, sig)
	}
}

// A plain MD5 of a string holding the secret, upper-case hex — the way
// many open platforms sign calls.
func TestPlainMD5WithSecret(t *testing.T) {
	p := withAuth(t, `  kind: hmac
  hmac:
    secret: md5-secret-0123456789
    app_key: app-7
    algorithm: md5
    encoding: HEX
    timestamp: rfc3339
    string_to_sign: "{secret}app_key{app_key}timestamp{timestamp}{body}{secret}"
    sign_header: Sign
    headers:
      App-Key: "{app_key}"
      Timestamp: "{timestamp}"
`)
	r := newRequest(t, "POST", "https://api.erp.example/open/orders")
	body := []byte(`{"n":1}`)
	if err := p.Authorize(r, body, signedAt, ""); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte("md5-secret-0123456789app_keyapp-7timestamp2023-11-14T22:13:20Z{\"n\":1}md5-secret-0123456789"))
	if got, want := r.Header.Get("Sign"), strings.ToUpper(hex.EncodeToString(sum[:])); got != want {
		t.Fatalf("sign %s, want %s", got, want)
	}
	if r.Header.Get("App-Key") != "app-7" || r.Header.Get("Timestamp") != "2023-11-14T22:13:20Z" {
		t.Fatalf("headers %v", r.Header)
	}
}

func TestHMACChecks(t *testing.T) {
	base := "  kind: hmac\n  hmac:\n    secret: x-0123456789\n    string_to_sign: \"{method}{path}\"\n    sign_header: S\n"
	tests := []struct{ name, old, new, want string }{
		{"no secret", "    secret: x-0123456789\n", "", "profile signed: auth.hmac.secret (line 5): required: an HMAC needs a secret"},
		{"bad placeholder", "{method}{path}", "{method}{uri}", "profile signed: auth.hmac.string_to_sign (line 7): unknown placeholder {uri}"},
		{"bad algorithm", "    sign_header: S\n", "    sign_header: S\n    algorithm: sha512\n", "auth.hmac.algorithm (line 9): must be one of"},
		{"bad encoding", "    sign_header: S\n", "    sign_header: S\n    encoding: b32\n", "auth.hmac.encoding (line 9): must be one of hex, HEX, base64"},
		{"plain hash without the secret", "    sign_header: S\n", "    sign_header: S\n    algorithm: md5\n", "auth.hmac.string_to_sign (line 7): a plain md5 signature must hold {secret}"},
		{"header and query", "    sign_header: S\n", "    sign_header: S\n    sign_query: s\n", "auth.hmac.sign_header (line 8): the signature goes in a header or in the query"},
		{"secret in an added header", "    sign_header: S\n", "    sign_header: S\n    headers: {X: \"{secret}\"}\n", "auth.hmac.headers (line 9): X: unknown placeholder {secret}"},
		{"no hmac section", "  hmac:\n    secret: x-0123456789\n    string_to_sign: \"{method}{path}\"\n    sign_header: S\n", "", "auth.hmac (line 3): required for kind hmac"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := "name: signed\nbase_url: https://x.example\nauth:\n" + strings.Replace(base, tt.old, tt.new, 1)
			_, err := Parse([]byte(y), "signed.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant %q", err, tt.want)
			}
		})
	}
}

// Bearer, api key (header or query), Basic go on the request; oauth2
// leaves it to the sender and gives it what it needs.
func TestAuthorizeKinds(t *testing.T) {
	tests := []struct {
		name, auth, header, value, query string
	}{
		{"bearer", "  kind: bearer\n  token: tok-0123456789\n", "Authorization", "Bearer tok-0123456789", ""},
		{"api key header", "  kind: api_key\n  key: key-0123456789\n  header: X-Api-Key\n", "X-Api-Key", "key-0123456789", "a=1"},
		{"api key query", "  kind: api_key\n  key: key 0123456789\n  query: api_key\n", "", "", "a=1&api_key=key%200123456789"},
		{"basic", "  kind: basic\n  username: u\n  password: pw-0123456789\n", "Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("u:pw-0123456789")), "a=1"},
		{"oauth2", "  kind: oauth2\n  client_id: cid\n  client_secret: cs-0123456789\n", "Authorization", "", "a=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := withAuth(t, tt.auth)
			r := newRequest(t, "GET", "https://api.erp.example/open/r?a=1")
			if err := p.Authorize(r, nil, signedAt, ""); err != nil {
				t.Fatal(err)
			}
			if tt.header != "" && r.Header.Get(tt.header) != tt.value {
				t.Errorf("%s: %q", tt.header, r.Header.Get(tt.header))
			}
			if tt.query != "" && r.URL.RawQuery != tt.query {
				t.Errorf("query %q", r.URL.RawQuery)
			}
		})
	}
	p := withAuth(t, "  kind: oauth2\n  client_id: cid\n  client_secret: cs-0123456789\n  scopes: [read, write]\n")
	u, id, sec, scopes, ok := p.OAuth2()
	if !ok || u != "https://api.erp.example/open/oauth/token" || id != "cid" || sec != "cs-0123456789" || len(scopes) != 2 {
		t.Errorf("OAuth2() = %q %q %q %v %v", u, id, sec, scopes, ok)
	}
	if _, _, _, _, ok := withAuth(t, "  kind: none\n").OAuth2(); ok {
		t.Error("OAuth2 of a profile without oauth2")
	}
	for _, bad := range []string{"  kind: oauth2\n  client_secret: cs-0123456789\n", "  kind: bearer\n", "  kind: basic\n  password: x\n"} {
		y := "name: signed\nbase_url: https://x.example\nauth:\n" + bad
		if _, err := Parse([]byte(y), "s"); err == nil || !strings.Contains(err.Error(), "required") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// Mask hides every secret, as it is and in the forms it travels in (a
// Basic credential's base64 included).
func TestMask(t *testing.T) {
	p := withAuth(t, "  kind: basic\n  username: svc\n  password: pw/0123456789\n")
	basic := base64.StdEncoding.EncodeToString([]byte("svc:pw/0123456789"))
	in := "password=pw/0123456789 url=pw%2F0123456789 Authorization: Basic " + basic
	out := p.Mask(in)
	if strings.Contains(out, "0123456789") || strings.Contains(out, basic) {
		t.Fatalf("Mask left a secret: %s", out)
	}
	if !strings.Contains(out, "<redacted>") {
		t.Fatalf("Mask: %s", out)
	}
	if got := withAuth(t, "  kind: none\n").Mask(in); got != in {
		t.Fatalf("a profile without secrets masked %s", got)
	}
}

// A secret in a STREAMSYNC_* variable would be read as a setting too: it is
// refused, naming the field.
func TestSecretInASettingsVariableIsRefused(t *testing.T) {
	t.Setenv("STREAMSYNC_SINK__CLIENT_SECRET", "a-secret-of-some-length")
	_, err := Parse([]byte("name: s\nbase_url: http://x\nauth: {kind: bearer, token: env:STREAMSYNC_SINK__CLIENT_SECRET}\ndefaults:\n  upsert: {method: PUT, path: \"/r/{key}\"}\n  delete: {method: DELETE, path: \"/r/{key}\"}\n"), "s.yaml")
	if err == nil || !strings.Contains(err.Error(), "auth.token (line 3)") || !strings.Contains(err.Error(), "STREAMSYNC_") {
		t.Fatalf("err %v", err)
	}
}
