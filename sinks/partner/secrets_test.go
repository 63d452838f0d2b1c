package partner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/internal/testenv"
)

const (
	echoSecret = "PARTNER-CLIENT-SECRET-5e6f"
	echoToken  = "PARTNER-ACCESS-TOKEN-7a8b9c"
)

// echoPartner echoes what it was sent: its token endpoint refuses the
// first refusals requests quoting their form body and Authorization
// header, then issues echoToken; its API answers 400 quoting the
// Authorization header.
func echoPartner(t *testing.T, refusals int64) *httptest.Server {
	var asked atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/oauth/token" {
			if asked.Add(1) <= refusals {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprintf(w, `{"error":"invalid_client","error_description":"got %s, auth %s"}`, body, r.Header.Get("Authorization"))
				return
			}
			fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, echoToken)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"invalid request with Authorization: %s and client_secret %s"}`, r.Header.Get("Authorization"), echoSecret)
	}))
	t.Cleanup(hs.Close)
	return hs
}

// What the partner echoes of our credentials — the client secret in a
// token refusal, the bearer token in an answer — reaches neither Health
// (`streamsync status`), the log, nor the verdict's detail (the attempt
// log, dead letters) (docs/security.md, "Secrets").
func TestEchoedCredentialsAreScrubbed(t *testing.T) {
	hs := echoPartner(t, 2)
	var logs bytes.Buffer
	s := sinkAt(t, hs.URL, func(c *Config) {
		c.ClientID, c.ClientSecret = "id", echoSecret
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan delivery.Answer, 1)
	go func() { done <- s.Send(ctx, ev("e1", "x", "k", 1, `{}`)) }()
	testenv.WaitFor(t, 10*time.Second, "the refusal in Health", func() bool { return !s.Health().AuthOK })
	refused := s.Health()
	r := <-done
	if r.Class != delivery.Permanent || r.Status != http.StatusBadRequest {
		t.Fatalf("result %+v", r)
	}
	seen := map[string]string{"health": fmt.Sprintf("%+v", refused), "detail": r.Detail, "log": logs.String()}
	for what, text := range seen {
		for _, secret := range []string{echoSecret, echoToken} {
			if strings.Contains(text, secret) {
				t.Errorf("the %s holds %s:\n%s", what, secret, text)
			}
		}
	}
	if !strings.Contains(refused.AuthError, "client_secret=<redacted>") || !strings.Contains(r.Detail, "Bearer <redacted>") {
		t.Errorf("the answers lost more than the secrets: health %q, detail %q", refused.AuthError, r.Detail)
	}
	if cfg := fmt.Sprintf("%+v %#v", s.cfg, s.cfg); strings.Contains(cfg, echoSecret) {
		t.Errorf("the config prints its secret: %s", cfg)
	}
}

// A token the partner echoes where the answer is clipped for the detail
// is taken out as far as it shows.
func TestEchoedTokenCutByTheClip(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, echoToken)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, strings.Repeat("x", 185)+" "+r.Header.Get("Authorization")) // "Bearer PARTN" at the clip
	}))
	defer hs.Close()
	s := sinkAt(t, hs.URL, func(c *Config) { c.ClientID, c.ClientSecret = "id", echoSecret })
	r := s.Send(context.Background(), ev("e1", "x", "k", 1, `{}`))
	if r.Class != delivery.Permanent || strings.Contains(r.Detail, echoToken[:minShown]) || !strings.Contains(r.Detail, "Bearer <redacted>") {
		t.Fatalf("detail %q", r.Detail)
	}
}

// minShown: this much of a token in a detail would be a leak.
const minShown = 4
