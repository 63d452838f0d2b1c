package partner

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
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
		class      Class
		retryAfter time.Duration
		detail     string
	}{
		{"200", "PUT", 200, nil, `{}`, nil, Delivered, 0, "200 OK"},
		{"201", "PUT", 201, nil, `{}`, nil, Delivered, 0, "201 Created"},
		{"204 delete", "DELETE", 204, nil, ``, nil, Delivered, 0, "204 No Content"},
		{"404 delete is done", "DELETE", 404, nil, `{"error":"not_found"}`, nil, Delivered, 0, "404 Not Found: not_found"},
		{"404 put is permanent", "PUT", 404, nil, `{"error":"not_found"}`, nil, Permanent, 0, "404 Not Found: not_found"},
		{"409 stale", "PUT", 409, nil, `{"error":"stale_version","current_version":7}`, nil, Stale, 0, "409 Conflict: stale_version"},
		{"409 parent missing", "PUT", 409, nil, `{"error":"parent_missing"}`, nil, ParentMissing, 0, "409 Conflict: parent_missing"},
		{"409 other is permanent", "PUT", 409, nil, `{"error":"locked"}`, nil, Permanent, 0, "409 Conflict: locked"},
		{"401", "PUT", 401, nil, `{"error":"invalid_token"}`, nil, Unauthorized, 0, "401 Unauthorized: invalid_token"},
		{"400", "PUT", 400, nil, `bad`, nil, Permanent, 0, "400 Bad Request: bad"},
		{"422", "PUT", 422, nil, `{"error":"rejected"}`, nil, Permanent, 0, "422 Unprocessable Entity: rejected"},
		{"413", "PUT", 413, nil, ``, nil, Permanent, 0, "413 Request Entity Too Large"},
		{"408", "PUT", 408, nil, ``, nil, Transient, 0, "408 Request Timeout"},
		{"429 seconds", "PUT", 429, hdr("Retry-After", "7"), ``, nil, Transient, 7 * time.Second, "429 Too Many Requests"},
		{"429 date", "PUT", 429, hdr("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat)), ``, nil, Transient, 90 * time.Second, "429 Too Many Requests"},
		{"429 junk", "PUT", 429, hdr("Retry-After", "soon"), ``, nil, Transient, 0, "429 Too Many Requests"},
		{"500", "PUT", 500, nil, ``, nil, Transient, 0, "500 Internal Server Error"},
		{"503 with retry-after", "DELETE", 503, hdr("Retry-After", "2"), `{"error":"outage"}`, nil, Transient, 2 * time.Second, "503 Service Unavailable: outage"},
		{"connection refused", "PUT", 0, nil, ``, errors.New("dial tcp: connection refused"), Transient, 0, "dial tcp: connection refused"},
		{"timeout", "PUT", 0, nil, ``, context.DeadlineExceeded, Transient, 0, "context deadline exceeded"},
		{"shutdown", "PUT", 0, nil, ``, context.Canceled, Aborted, 0, "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.hdr
			if h == nil {
				h = http.Header{}
			}
			v := Classify(tt.method, tt.status, h, []byte(tt.body), tt.err, now)
			if v.Class != tt.class || v.RetryAfter != tt.retryAfter || v.Detail != tt.detail {
				t.Fatalf("got %v %s %q, want %v %s %q", v.Class, v.RetryAfter, v.Detail, tt.class, tt.retryAfter, tt.detail)
			}
		})
	}
}
