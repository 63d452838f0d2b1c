package apiclient

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// DefaultTokenEarlyExpiry: a token is replaced this long before it expires.
const DefaultTokenEarlyExpiry = 2 * time.Second

// Tokens caches one client-credentials token (contract §2's POST
// /oauth/token), fetches a new one shortly before it expires, and drops it
// when the API answers 401. Safe for concurrent use.
type Tokens struct {
	cc    clientcredentials.Config
	early time.Duration
	now   func() time.Time

	mu  sync.Mutex
	tok *oauth2.Token
	exp time.Time // expiry on t.now's clock; zero when the token does not expire
}

// NewTokens builds a token cache for clientID/clientSecret at tokenURL. The
// credentials go as form fields (golang.org/x/oauth2 detects the style).
// early <= 0 means DefaultTokenEarlyExpiry; a nil now means time.Now.
func NewTokens(tokenURL, clientID, clientSecret string, early time.Duration, now func() time.Time) *Tokens {
	if early <= 0 {
		early = DefaultTokenEarlyExpiry
	}
	if now == nil {
		now = time.Now
	}
	return &Tokens{
		cc:    clientcredentials.Config{ClientID: clientID, ClientSecret: clientSecret, TokenURL: tokenURL},
		early: early,
		now:   now,
	}
}

// Get returns a valid access token, fetching one when needed (one fetch at a
// time; callers that wait get the fresh token).
func (t *Tokens) Get(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && (t.exp.IsZero() || t.now().Add(t.early).Before(t.exp)) {
		return t.tok.AccessToken, nil
	}
	tok, err := t.cc.Token(ctx)
	if err != nil {
		return "", fmt.Errorf("token from %s: %w", t.cc.TokenURL, err)
	}
	t.tok, t.exp = tok, time.Time{}
	if !tok.Expiry.IsZero() {
		// The library dates expiry by the wall clock; keep it on ours.
		t.exp = t.now().Add(time.Until(tok.Expiry))
	}
	return tok.AccessToken, nil
}

// Invalidate drops the token if it is still the one that was refused.
func (t *Tokens) Invalidate(refused string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && t.tok.AccessToken == refused {
		t.tok = nil
	}
}
