package ingest

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Producer is one producer's credential (ingest.tokens, docs/security.md):
// a request carrying "Authorization: Bearer <Token>" comes from Name.
type Producer struct {
	Name  string
	Token string
}

// String never shows the token.
func (p Producer) String() string { return p.Name + ":<redacted>" }

// producers checks bearer tokens. Each request's token is hashed and the
// hash compared with every producer's, in constant time, so that neither
// the time taken nor an early exit tells how much of a token was right,
// how long a token is, or which producer's it came close to.
type producers struct {
	names []string
	sums  [][sha256.Size]byte
}

func newProducers(ps []Producer) (producers, error) {
	var p producers
	seen := map[string]bool{}
	for i, pr := range ps {
		if pr.Name == "" || pr.Token == "" {
			return producers{}, fmt.Errorf("ingest: producer %d has no name or no token", i+1)
		}
		if seen[pr.Name] {
			return producers{}, fmt.Errorf("ingest: producer %q is listed twice", pr.Name)
		}
		seen[pr.Name] = true
		p.names = append(p.names, pr.Name)
		p.sums = append(p.sums, sha256.Sum256([]byte(pr.Token)))
	}
	return p, nil
}

// open reports whether no producer is configured: every request is taken,
// from no producer (the ingest then listens on loopback only).
func (p producers) open() bool { return len(p.names) == 0 }

// match returns the producer whose token is token.
func (p producers) match(token string) (string, bool) {
	got := sha256.Sum256([]byte(token))
	found, at := 0, 0
	for i := range p.sums {
		eq := subtle.ConstantTimeCompare(got[:], p.sums[i][:])
		at = subtle.ConstantTimeSelect(eq, i, at)
		found |= eq
	}
	if found != 1 {
		return "", false
	}
	return p.names[at], true
}

// bearer is the token of an "Authorization: Bearer <token>" header (the
// scheme in any case, RFC 7235), empty when there is none.
func bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

type producerKey struct{}

// producerOf is the producer a request was authenticated as; empty on an
// open ingest.
func producerOf(ctx context.Context) string {
	name, _ := ctx.Value(producerKey{}).(string)
	return name
}

// errUnauthorized is what a request without a producer's token is told.
var errUnauthorized = errors.New("unauthorized")

// authenticate lets through a request that carries a producer's token, with
// the producer in its context, and answers any other 401 without reading
// its body. An open ingest lets every request through.
func (s *Server) authenticate(h http.Handler) http.Handler {
	if s.producers.open() {
		return h
	}
	warn := &rate.Sometimes{First: 1, Interval: 10 * time.Second}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := "", false
		if token := bearer(r); token != "" {
			name, ok = s.producers.match(token)
		}
		if !ok {
			s.metrics.refused.WithLabelValues("unauthorized").Inc()
			warn.Do(func() {
				s.cfg.Logger.Warn("ingest: request without a producer's token refused (at most one such line every 10 s)",
					"remote", r.RemoteAddr, "path", r.URL.Path, "had_authorization", r.Header.Get("Authorization") != "")
			})
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": errUnauthorized.Error()})
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), producerKey{}, name)))
	})
}
