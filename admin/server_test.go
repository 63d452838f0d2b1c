package admin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestServer(t *testing.T) {
	var notReady atomic.Pointer[error]
	ready := func(context.Context) error {
		if e := notReady.Load(); e != nil {
			return *e
		}
		return nil
	}
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "streamsync_test_total", Help: "t"})
	reg.MustRegister(c)
	c.Add(3)
	api := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"ok": "yes"}) })
	s, err := New(Config{Addr: "127.0.0.1:0", Token: "tok"}, ready, reg, api, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	base := "http://" + s.Addr()

	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name, path, token string
		before            func()
		status            int
		contains          string
	}{
		{"healthz", "/healthz", "", nil, 200, `"ok"`},
		{"ready", "/readyz", "", nil, 200, `"ready"`},
		{"not ready", "/readyz", "", func() { e := errors.New("redis: connection refused"); notReady.Store(&e) }, 503, "connection refused"},
		{"healthz while not ready", "/healthz", "", nil, 200, `"ok"`},
		{"metrics open", "/metrics", "", nil, 200, "streamsync_test_total 3"},
		{"api without token", "/api/v1/status", "", nil, 401, "admin token required"},
		{"api wrong token", "/api/v1/status", "nope", nil, 401, "admin token required"},
		{"api with token", "/api/v1/status", "tok", nil, 200, `"yes"`},
		{"operators' console", "/", "", nil, 200, "Dead letters"},
		{"console script", "/console/app.js", "", nil, 200, "/api/v1/dead/replay"},
		{"console asks for the token", "/console/auth", "", nil, 200, `"token_required":true`},
		{"console file missing", "/console/nope.js", "", nil, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before()
			}
			st, body := get(tt.path, tt.token)
			if st != tt.status || !strings.Contains(body, tt.contains) {
				t.Fatalf("%s: %d %s; want %d containing %s", tt.path, st, body, tt.status, tt.contains)
			}
		})
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New(Config{}, func(context.Context) error { return nil }, nil, nil, nil); err == nil {
		t.Fatal("empty addr accepted")
	}
	if _, err := New(Config{Addr: "127.0.0.1:0"}, nil, nil, nil, nil); err == nil {
		t.Fatal("nil ready accepted")
	}
}
