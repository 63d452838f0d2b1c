package partner

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/delivery"
)

// Long answers over real HTTP: the verdict rests on the whole answer (up to
// 1 MiB read, the error code found wherever it stands); only the Detail that
// is stored is clipped.
func TestLongAnswers(t *testing.T) {
	pad := strings.Repeat("d", 6000)
	tests := []struct {
		name   string
		status int
		body   string
		class  delivery.Class
		detail string
	}{
		{"409 stale_version after 6 KB", 409, `{"detail":"` + pad + `","error":"stale_version","current_version":9}`, delivery.Stale, "409 Conflict: stale_version"},
		{"409 parent_missing after 6 KB", 409, `{"detail":"` + pad + `","error":"parent_missing"}`, delivery.ParentMissing, "409 Conflict: parent_missing"},
		{"409 stale_version first in 3 MiB", 409, `{"error":"stale_version","detail":"` + strings.Repeat(pad, 500) + `"}`, delivery.Stale, "409 Conflict: stale_version"},
		{"201 with 3 MiB", 201, `{"detail":"` + strings.Repeat(pad, 500) + `"}`, delivery.Delivered, "201 Created"},
		{"422 with 6 KB", 422, `{"detail":"` + pad + `"}`, delivery.Permanent, `422 Unprocessable Entity: {"detail":"` + pad[:189] + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer hs.Close()
			r := sinkAt(t, hs.URL, nil).Send(context.Background(), ev("e1", "x", "k", 1, `{}`))
			if r.Class != tt.class || r.Detail != tt.detail || r.Calls != 1 {
				t.Fatalf("got %v %.300q (%d calls), want %v %.300q", r.Class, r.Detail, r.Calls, tt.class, tt.detail)
			}
		})
	}
}

// The token endpoint's answers: a token in a long answer is used; a long
// refusal is a refusal whose stored detail stays short. The verdict rests on
// the status; golang.org/x/oauth2 reads up to 1 MiB of the body before it
// parses it.
func TestLongTokenAnswers(t *testing.T) {
	token := strings.Repeat("t", 64<<10)
	var refuse atomic.Bool
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/oauth/token" && refuse.Load():
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error_description":%q,"error":"invalid_client"}`, strings.Repeat("e", 6000))
		case r.URL.Path == "/oauth/token":
			fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600,"extra":%q}`, token, strings.Repeat("x", 600<<10))
		case r.Header.Get("Authorization") == "Bearer "+token:
			w.WriteHeader(http.StatusCreated)
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer hs.Close()
	s := sinkAt(t, hs.URL, func(c *Config) { c.ClientID, c.ClientSecret = "id", "sec" })
	if r := s.Send(context.Background(), ev("e1", "x", "k", 1, `{}`)); r.Class != delivery.Delivered {
		t.Fatalf("with a 64 KB token in a 700 KB answer: %+v", r)
	}

	refuse.Store(true)
	s = sinkAt(t, hs.URL, func(c *Config) { c.ClientID, c.ClientSecret = "id", "sec" })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if r := s.Send(ctx, ev("e2", "x", "k", 1, `{}`)); r.Class != delivery.Aborted {
		t.Fatalf("events wait while the credentials are refused: %+v", r)
	}
	h := s.Health()
	if h.AuthOK || !strings.HasPrefix(h.AuthError, "token endpoint answered 401 Unauthorized: ") || len(h.AuthError) > 300 {
		t.Fatalf("health %+v: want a refusal with a short detail", h)
	}
}
