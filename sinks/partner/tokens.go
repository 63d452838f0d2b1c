package partner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// tokens caches one client-credentials token, fetches a new one shortly
// before it expires, and drops it when the partner answers 401.
type tokens struct {
	cc     clientcredentials.Config
	client *http.Client // never follows a redirect
	early  time.Duration
	now    func() time.Time

	fetches atomic.Uint64 // fetches done, for callers that waited on one

	mu      sync.Mutex
	tok     *oauth2.Token
	exp     time.Time // expiry on t.now's clock; zero when the token does not expire
	lastErr error     // of the last fetch; nil when it succeeded
}

// get returns a valid access token, fetching one when needed (one fetch at a
// time; callers that waited for a fetch get its token, or its error without
// asking again: shared). fetched tells whether this call asked the token
// endpoint. The error of a fetch wraps the oauth2 error; ClassifyToken
// judges it.
func (t *tokens) get(ctx context.Context) (tok string, fetched bool, err error) {
	seen := t.fetches.Load()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fetches.Load() != seen && t.lastErr != nil {
		return "", false, fmt.Errorf("%w (%w)", errShared, t.lastErr)
	}
	if t.tok != nil && (t.exp.IsZero() || t.now().Add(t.early).Before(t.exp)) {
		return t.tok.AccessToken, false, nil
	}
	nt, err := t.cc.Token(context.WithValue(ctx, oauth2.HTTPClient, t.client))
	t.fetches.Add(1)
	if err != nil {
		t.lastErr = fmt.Errorf("token from %s: %w", t.cc.TokenURL, err)
		return "", true, t.lastErr
	}
	t.lastErr = nil
	t.tok, t.exp = nt, time.Time{}
	if !nt.Expiry.IsZero() {
		// The library dates expiry by the wall clock; keep it on ours.
		t.exp = t.now().Add(time.Until(nt.Expiry))
	}
	return nt.AccessToken, true, nil
}

// errShared marks the error of a fetch another caller made.
var errShared = errors.New("shared token fetch failed")

// invalidate drops the token if it is still the one that was refused.
func (t *tokens) invalidate(refused string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && t.tok.AccessToken == refused {
		t.tok = nil
	}
}
