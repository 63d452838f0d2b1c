package profile

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

const signedProfile = `name: signed
base_url: https://api.example/
auth:
  kind: hmac
  hmac:
    secret: s3cret-key-0123
    app_key: app-1
    string_to_sign: "{method}\n{path}\n{query}\n{app_key}\n{timestamp}\n{nonce}\n{body}"
    SIGN_AT
    headers: {X-Ts: "{timestamp}", X-Nonce: "{nonce}"}
defaults:
  upsert: {method: PUT, path: "/x/{key}"}
  delete: {method: DELETE, path: "/x/{key}"}
`

// A request signed by the profile's own Authorize verifies; a change of
// body, query, timestamp or signature, or an old timestamp, does not.
func TestVerifyHMAC(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, at := range []string{"sign_header: X-Sign", "sign_query: sign"} {
		p := mustParse(t, strings.Replace(signedProfile, "SIGN_AT", at, 1))
		signed := func(t *testing.T, body string, when time.Time) *http.Request {
			r, _ := http.NewRequest(http.MethodPost, "http://ours.example/v1/partners/erp/webhooks?b=2&a=1", bytes.NewReader([]byte(body)))
			if err := p.Authorize(r, []byte(body), when, "n-1"); err != nil {
				t.Fatal(err)
			}
			return r
		}
		t.Run(at, func(t *testing.T) {
			ref, err := p.VerifyHMAC(signed(t, `{"a":1}`, now), []byte(`{"a":1}`), now.Add(time.Minute), 5*time.Minute)
			if err != nil || ref != "n-1" {
				t.Fatalf("a signed request: ref %q, %v", ref, err)
			}
			for _, tc := range []struct {
				name string
				edit func(r *http.Request) (*http.Request, []byte)
				want error
			}{
				{"other body", func(r *http.Request) (*http.Request, []byte) { return r, []byte(`{"a":2}`) }, ErrHMACMismatch},
				{"other query", func(r *http.Request) (*http.Request, []byte) {
					r.URL.RawQuery += "&c=3"
					return r, []byte(`{"a":1}`)
				}, ErrHMACMismatch},
				{"other timestamp", func(r *http.Request) (*http.Request, []byte) {
					r.Header.Set("X-Ts", "1800000001")
					return r, []byte(`{"a":1}`)
				}, ErrHMACMismatch},
				{"no timestamp", func(r *http.Request) (*http.Request, []byte) {
					r.Header.Del("X-Ts")
					return r, []byte(`{"a":1}`)
				}, ErrHMACMissing},
				{"bad timestamp", func(r *http.Request) (*http.Request, []byte) {
					r.Header.Set("X-Ts", "soon")
					return r, []byte(`{"a":1}`)
				}, ErrHMACTimestamp},
				{"no signature", func(r *http.Request) (*http.Request, []byte) {
					r.Header.Del("X-Sign")
					r.URL.RawQuery = "a=1&b=2"
					return r, []byte(`{"a":1}`)
				}, ErrHMACMissing},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r, body := tc.edit(signed(t, `{"a":1}`, now))
					if _, err := p.VerifyHMAC(r, body, now, 5*time.Minute); !errors.Is(err, tc.want) {
						t.Fatalf("got %v, want %v", err, tc.want)
					}
				})
			}
			if _, err := p.VerifyHMAC(signed(t, `{}`, now.Add(-6*time.Minute)), []byte(`{}`), now, 5*time.Minute); !errors.Is(err, ErrHMACStale) {
				t.Errorf("six minutes old: %v, want ErrHMACStale", err)
			}
			if _, err := p.VerifyHMAC(signed(t, `{}`, now.Add(6*time.Minute)), []byte(`{}`), now, 5*time.Minute); !errors.Is(err, ErrHMACStale) {
				t.Errorf("six minutes ahead: %v, want ErrHMACStale", err)
			}
		})
	}
}
