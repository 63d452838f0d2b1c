package partner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/apiclient"
	"github.com/streamsync/streamsync/internal/delivery"
	"golang.org/x/oauth2"
)

func TestClassify(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hdr := func(k, v string) http.Header { h := http.Header{}; h.Set(k, v); return h }
	tests := []struct {
		name       string
		method     string
		status     int
		hdr        http.Header
		body       string
		err        error
		class      delivery.Class
		retryAfter time.Duration
		detail     string
	}{
		{"200", "PUT", 200, nil, `{}`, nil, delivery.Delivered, 0, "200 OK"},
		{"201", "PUT", 201, nil, `{}`, nil, delivery.Delivered, 0, "201 Created"},
		{"204 delete", "DELETE", 204, nil, ``, nil, delivery.Delivered, 0, "204 No Content"},
		{"404 delete is done", "DELETE", 404, nil, `{"error":"not_found"}`, nil, delivery.Delivered, 0, "404 Not Found: not_found"},
		{"404 put is permanent", "PUT", 404, nil, `{"error":"not_found"}`, nil, delivery.Permanent, 0, "404 Not Found: not_found"},
		{"409 stale", "PUT", 409, nil, `{"error":"stale_version","current_version":7}`, nil, delivery.Stale, 0, "409 Conflict: stale_version"},
		{"409 parent missing", "PUT", 409, nil, `{"error":"parent_missing"}`, nil, delivery.ParentMissing, 0, "409 Conflict: parent_missing"},
		{"409 other is permanent", "PUT", 409, nil, `{"error":"locked"}`, nil, delivery.Permanent, 0, "409 Conflict: locked"},
		{"401", "PUT", 401, nil, `{"error":"invalid_token"}`, nil, delivery.Unauthorized, 0, "401 Unauthorized: invalid_token"},
		{"400", "PUT", 400, nil, `bad`, nil, delivery.Permanent, 0, "400 Bad Request: bad"},
		{"422", "PUT", 422, nil, `{"error":"rejected"}`, nil, delivery.Permanent, 0, "422 Unprocessable Entity: rejected"},
		{"413", "PUT", 413, nil, ``, nil, delivery.Permanent, 0, "413 Request Entity Too Large"},
		{"408", "PUT", 408, nil, ``, nil, delivery.Transient, 0, "408 Request Timeout"},
		{"429 seconds", "PUT", 429, hdr("Retry-After", "7"), ``, nil, delivery.Transient, 7 * time.Second, "429 Too Many Requests"},
		{"429 date", "PUT", 429, hdr("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat)), ``, nil, delivery.Transient, 90 * time.Second, "429 Too Many Requests"},
		{"429 junk", "PUT", 429, hdr("Retry-After", "soon"), ``, nil, delivery.Transient, 0, "429 Too Many Requests"},
		{"500", "PUT", 500, nil, ``, nil, delivery.Transient, 0, "500 Internal Server Error"},
		{"503 with retry-after", "DELETE", 503, hdr("Retry-After", "2"), `{"error":"outage"}`, nil, delivery.Transient, 2 * time.Second, "503 Service Unavailable: outage"},
		{"connection refused", "PUT", 0, nil, ``, errors.New("dial tcp: connection refused"), delivery.Transient, 0, "dial tcp: connection refused"},
		{"timeout", "PUT", 0, nil, ``, context.DeadlineExceeded, delivery.Transient, 0, "context deadline exceeded"},
		{"shutdown", "PUT", 0, nil, ``, context.Canceled, delivery.Aborted, 0, "context canceled"},
		// Only the partner's own answer to our request counts (docs/events.md).
		{"301 is never delivered", "PUT", 301, hdr("Location", "https://elsewhere/v1/x/k"), ``, nil, delivery.Permanent, 0, "301 Moved Permanently: redirect not followed, Location: https://elsewhere/v1/x/k"},
		{"302 on delete", "DELETE", 302, hdr("Location", "/login"), `<html>`, nil, delivery.Permanent, 0, "302 Found: redirect not followed, Location: /login: <html>"},
		{"304 without location", "PUT", 304, nil, ``, nil, delivery.Permanent, 0, "304 Not Modified: redirect not followed, no Location"},
		{"307 keeps its retry-after", "PUT", 307, hdr("Retry-After", "4"), ``, nil, delivery.Permanent, 4 * time.Second, "307 Temporary Redirect: redirect not followed, no Location"},
		{"101 is not a final answer", "PUT", 101, nil, ``, nil, delivery.Transient, 0, "101 Switching Protocols: not a final answer"},
		{"2xx cut short", "PUT", 200, nil, `{"ok"`, errors.New("unexpected EOF"), delivery.Transient, 0, "200 OK, answer cut short: unexpected EOF"},
		{"2xx cut short while read", "PUT", 200, nil, ``, fmt.Errorf("%w after 3 bytes: %w", apiclient.ErrAnswerCut, io.ErrUnexpectedEOF), delivery.Transient, 0, "200 OK, answer cut short after 3 bytes: unexpected EOF"},
		{"2xx cut short by shutdown", "PUT", 200, nil, ``, context.Canceled, delivery.Aborted, 0, "context canceled"},
		{"404 delete cut short", "DELETE", 404, nil, ``, errors.New("unexpected EOF"), delivery.Transient, 0, "404 Not Found, answer cut short: unexpected EOF"},
		{"407 is a proxy's", "PUT", 407, nil, ``, nil, delivery.Transient, 0, "407 Proxy Authentication Required (from a proxy or another server, not the partner's answer)"},
		{"421 is another server's", "PUT", 421, nil, ``, nil, delivery.Transient, 0, "421 Misdirected Request (from a proxy or another server, not the partner's answer)"},
		{"425", "PUT", 425, hdr("Retry-After", "1"), ``, nil, delivery.Transient, time.Second, "425 Too Early"},
		{"999", "PUT", 999, nil, `?`, nil, delivery.Transient, 0, "status 999 is not an HTTP answer: ?"},
		{"99", "PUT", 99, nil, ``, nil, delivery.Transient, 0, "status 99 is not an HTTP answer: "},
		{"403", "PUT", 403, nil, `{"error":"forbidden"}`, nil, delivery.Permanent, 0, "403 Forbidden: forbidden"},
		{"405 delete", "DELETE", 405, nil, ``, nil, delivery.Permanent, 0, "405 Method Not Allowed"},
		{"409 stale on delete", "DELETE", 409, nil, `{"error":"stale_version"}`, nil, delivery.Stale, 0, "409 Conflict: stale_version"},
		{"409 without a body", "PUT", 409, nil, ``, nil, delivery.Permanent, 0, "409 Conflict"},
		{"retry-after on a 409 parent_missing", "PUT", 409, hdr("Retry-After", "3"), `{"error":"parent_missing"}`, nil, delivery.ParentMissing, 3 * time.Second, "409 Conflict: parent_missing"},
		{"retry-after on a 200", "PUT", 200, hdr("Retry-After", "3"), ``, nil, delivery.Delivered, 3 * time.Second, "200 OK"},
		{"retry-after capped", "PUT", 503, hdr("Retry-After", "999999999999999"), ``, nil, delivery.Transient, 24 * time.Hour, "503 Service Unavailable"},
		{"retry-after negative", "PUT", 503, hdr("Retry-After", "-5"), ``, nil, delivery.Transient, 0, "503 Service Unavailable"},
		{"retry-after in the past", "PUT", 503, hdr("Retry-After", now.Add(-time.Minute).Format(http.TimeFormat)), ``, nil, delivery.Transient, 0, "503 Service Unavailable"},
		{"599", "PUT", 599, nil, ``, nil, delivery.Transient, 0, "599 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.hdr
			if h == nil {
				h = http.Header{}
			}
			v := Classify(tt.method, tt.status, h, apiclient.Body{Bytes: []byte(tt.body)}, tt.err, now)
			if v.Class != tt.class || v.RetryAfter != tt.retryAfter || v.Detail != tt.detail {
				t.Fatalf("got %v %s %q, want %v %s %q", v.Class, v.RetryAfter, v.Detail, tt.class, tt.retryAfter, tt.detail)
			}
		})
	}
}

// The error code decides wherever it stands in the body, however long the
// body: a 409 whose stale_version follows 6 KB of detail was dead-lettered
// rejected when only the first 4 KB were parsed. Only the Detail is clipped.
func TestClassifyLongAnswers(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pad := strings.Repeat("x", 6000)
	mib := strings.Repeat("y", apiclient.MaxAnswer)
	tests := []struct {
		name   string
		status int
		body   apiclient.Body
		class  delivery.Class
		detail string
	}{
		{"6 KB 409 stale_version, code last", 409, apiclient.Body{Bytes: []byte(`{"detail":"` + pad + `","error":"stale_version","current_version":9}`)},
			delivery.Stale, "409 Conflict: stale_version"},
		{"6 KB 409 parent_missing, code last", 409, apiclient.Body{Bytes: []byte(`{"trace":["` + pad + `"],"error":"parent_missing"}`)},
			delivery.ParentMissing, "409 Conflict: parent_missing"},
		{"over 1 MiB, code read whole in the first MiB", 409, apiclient.Body{Bytes: []byte(`{"error":"stale_version","detail":"` + mib)[:apiclient.MaxAnswer], Over: true},
			delivery.Stale, "409 Conflict: stale_version"},
		{"over 1 MiB, no code in the first MiB", 409, apiclient.Body{Bytes: []byte(`{"detail":"` + mib)[:apiclient.MaxAnswer], Over: true},
			delivery.Permanent, `409 Conflict: {"detail":"` + mib[:189] + "… (answer over 1024 KiB, no error code in its first 1024 KiB)"},
		{"a long 422 keeps a short detail", 422, apiclient.Body{Bytes: []byte(pad)}, delivery.Permanent, "422 Unprocessable Entity: " + pad[:200] + "…"},
		{"clipped on a character boundary", 422, apiclient.Body{Bytes: []byte(strings.Repeat("界", 3000))}, delivery.Permanent,
			"422 Unprocessable Entity: " + strings.Repeat("界", 66) + "…"},
		{"a long 200", 200, apiclient.Body{Bytes: []byte(pad)}, delivery.Delivered, "200 OK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Classify("PUT", tt.status, http.Header{}, tt.body, nil, now)
			if v.Class != tt.class || v.Detail != tt.detail {
				t.Fatalf("got %v %.300q, want %v %.300q", v.Class, v.Detail, tt.class, tt.detail)
			}
		})
	}
}

func TestClassifyToken(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	answer := func(status int, body string, kv ...string) error {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return fmt.Errorf("token from x: %w", &oauth2.RetrieveError{Response: &http.Response{StatusCode: status, Header: h}, Body: []byte(body)})
	}
	tests := []struct {
		name       string
		err        error
		class      delivery.Class
		retryAfter time.Duration
		detail     string
	}{
		{"401 wrong secret", answer(401, `{"error":"invalid_client"}`), delivery.AuthRefused, 0, `token endpoint answered 401 Unauthorized: {"error":"invalid_client"}`},
		{"400 invalid_client", answer(400, `{"error":"invalid_client"}`), delivery.AuthRefused, 0, `token endpoint answered 400 Bad Request: {"error":"invalid_client"}`},
		{"403", answer(403, ``), delivery.AuthRefused, 0, `token endpoint answered 403 Forbidden`},
		{"redirect not followed", answer(307, ``, "Location", "https://evil/token"), delivery.AuthRefused, 0, `token endpoint answered 307 Temporary Redirect (redirect not followed, Location: https://evil/token)`},
		{"200 with an error code", answer(200, `{"error":"invalid_client"}`), delivery.AuthRefused, 0, `token endpoint answered 200 OK: {"error":"invalid_client"}`},
		{"503 is the endpoint down", answer(503, `down`, "Retry-After", "9"), delivery.Transient, 9 * time.Second, `token endpoint answered 503 Service Unavailable: down`},
		{"429", answer(429, ``, "Retry-After", "2"), delivery.Transient, 2 * time.Second, `token endpoint answered 429 Too Many Requests`},
		{"no token in a 200", errors.New("token from x: oauth2: server response missing access_token"), delivery.AuthRefused, 0, "token endpoint answered without a token: token from x: oauth2: server response missing access_token"},
		{"200 cut short", errors.New("token from x: oauth2: cannot fetch token: unexpected EOF"), delivery.Transient, 0, "token from x: oauth2: cannot fetch token: unexpected EOF"},
		{"connection refused", fmt.Errorf("token from x: %w", &url.Error{Op: "Post", URL: "x", Err: errors.New("connection refused")}), delivery.Transient, 0, `token from x: Post "x": connection refused`},
		{"timeout", fmt.Errorf("token from x: %w", context.DeadlineExceeded), delivery.Transient, 0, "token from x: context deadline exceeded"},
		{"shutdown", fmt.Errorf("token from x: %w", context.Canceled), delivery.Aborted, 0, "token from x: context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := ClassifyToken(tt.err, now)
			if v.Class != tt.class || v.RetryAfter != tt.retryAfter || v.Detail != tt.detail {
				t.Fatalf("got %v %s %q, want %v %s %q", v.Class, v.RetryAfter, v.Detail, tt.class, tt.retryAfter, tt.detail)
			}
		})
	}
}
