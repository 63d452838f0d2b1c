package partner

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/internal/testenv"
)

// elsewhere is a server a redirect points at; it counts what reaches it.
func elsewhere(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/oauth/token" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"stolen","token_type":"Bearer","expires_in":3600}`))
			return
		}
		w.WriteHeader(http.StatusOK) // what a GET of the new place answers; a 404 for a DELETE would be "already gone"
	}))
	t.Cleanup(hs.Close)
	return hs, &hits
}

func sinkAt(t *testing.T, url string, mutate func(*Config)) *Sink {
	t.Helper()
	cfg := Config{BaseURL: url, Timeout: 2 * time.Second, Breaker: BreakerConfig{PollInterval: time.Millisecond}}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A redirect is never followed and never counts as delivered: a PUT
// answered 301 was re-sent by Go's client as a GET without its body, and
// that GET's 200 recorded as delivered. Every redirect status, both methods.
func TestRedirectIsNeverFollowed(t *testing.T) {
	other, hits := elsewhere(t)
	for _, status := range []int{301, 302, 303, 307, 308} {
		for _, op := range []event.Op{event.OpUpsert, event.OpDelete} {
			t.Run(http.StatusText(status)+" "+string(op), func(t *testing.T) {
				hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, other.URL+r.URL.Path, status)
				}))
				defer hs.Close()
				e := ev("e1", "x", "k", 1, `{}`)
				e.Op = op
				r := sinkAt(t, hs.URL, nil).Send(context.Background(), e)
				if r.Class != delivery.Permanent || r.Status != status || r.Calls != 1 {
					t.Fatalf("got %+v, want a permanent failure", r)
				}
				if !strings.Contains(r.Detail, "redirect not followed") || !strings.Contains(r.Detail, "Location: "+other.URL+"/v1/x/k") {
					t.Fatalf("detail %q does not name the redirect and its Location", r.Detail)
				}
				if hits.Load() != 0 {
					t.Fatalf("the redirect was followed: %d requests reached its target", hits.Load())
				}
			})
		}
	}
}

// The token request never follows a redirect either: the credentials are
// not re-sent elsewhere, no token from elsewhere is used, events wait, and
// Health names the redirect.
func TestTokenRedirectIsNeverFollowed(t *testing.T) {
	other, hits := elsewhere(t)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			http.Redirect(w, r, other.URL+"/oauth/token", http.StatusTemporaryRedirect)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer hs.Close()
	s := sinkAt(t, hs.URL, func(c *Config) { c.ClientID, c.ClientSecret = "id", "sec" })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan delivery.Answer, 1)
	go func() { done <- s.Send(ctx, ev("e1", "x", "k", 1, `{}`)) }()
	testenv.WaitFor(t, 10*time.Second, "the token redirect to be reported", func() bool { return !s.Health().AuthOK })
	cancel()
	if r := <-done; r.Class != delivery.Aborted || r.Calls != 0 {
		t.Fatalf("the event did not wait: %+v", r)
	}
	if h := s.Health(); !strings.Contains(h.AuthError, "307") || !strings.Contains(h.AuthError, "Location: "+other.URL+"/oauth/token") {
		t.Fatalf("health %+v", h)
	}
	if hits.Load() != 0 {
		t.Fatalf("the credentials were sent to the redirect's target (%d requests)", hits.Load())
	}
}

// raw answers every request with the given bytes on the bare connection.
func raw(t *testing.T, answer string) string {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString(answer)
		_ = buf.Flush()
		_ = bufio.NewWriter(conn).Flush()
	}))
	t.Cleanup(hs.Close)
	return hs.URL
}

// Answers that are not the partner's verdict on the change are never
// counted as delivered, nor dead-lettered as rejected.
func TestOddAnswers(t *testing.T) {
	tests := []struct {
		name   string
		answer string
		class  delivery.Class
		detail string
	}{
		{"2xx cut short", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"ok\"", delivery.Transient, "answer cut short"},
		{"404 to a delete cut short", "HTTP/1.1 404 Not Found\r\nContent-Length: 50\r\n\r\n{", delivery.Transient, "answer cut short"},
		{"101", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n", delivery.Transient, "not a final answer"},
		{"407 from a proxy", "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n", delivery.Transient, "not the partner's answer"},
		{"status 999", "HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n", delivery.Transient, "not an HTTP answer"},
		{"304", "HTTP/1.1 304 Not Modified\r\n\r\n", delivery.Permanent, "304 Not Modified: redirect not followed, no Location"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ev("e1", "x", "k", 1, `{}`)
			if strings.Contains(tt.name, "delete") {
				e.Op = event.OpDelete
			}
			r := sinkAt(t, raw(t, tt.answer), nil).Send(context.Background(), e)
			if r.Class != tt.class || !strings.Contains(r.Detail, tt.detail) {
				t.Fatalf("got %+v, want %v with %q", r, tt.class, tt.detail)
			}
		})
	}
}
