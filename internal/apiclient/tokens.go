package apiclient

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

// DefaultTokenEarlyExpiry: a token is replaced this long before it expires.
const DefaultTokenEarlyExpiry = 2 * time.Second

// ErrSharedFetch marks the error of a token fetch another caller made and
// this one waited for: the token endpoint was not asked again.
var ErrSharedFetch = errors.New("shared token fetch failed")

// Tokens caches one client-credentials token (docs/partner-api.md's POST
// /oauth/token), fetches a new one shortly before it expires, and drops it
// when the API answers 401. Safe for concurrent use. The token endpoint is
// asked with a client that never follows a redirect.
type Tokens struct {
	cc     clientcredentials.Config
	client *http.Client
	early  time.Duration
	now    func() time.Time

	fetches atomic.Uint64 // fetches done, for callers that waited on one

	mu      sync.Mutex
	tok     *oauth2.Token
	exp     time.Time // expiry on t.now's clock; zero when the token does not expire
	lastErr error     // of the last fetch; nil when it succeeded

	secrets atomic.Pointer[[]string] // what Scrub hides: the client secret, its Basic pairs, the last tokens issued
}

// NewTokens builds a token cache for clientID/clientSecret at tokenURL. The
// credentials go as form fields (golang.org/x/oauth2 detects the style).
// client asks the token endpoint (nil: a NewHTTPClient with a 10 s dial
// timeout and the system's roots); early <= 0 means DefaultTokenEarlyExpiry; a nil now means
// time.Now. scopes, when given, are asked for (a profile's auth.scopes).
func NewTokens(tokenURL, clientID, clientSecret string, client *http.Client, early time.Duration, now func() time.Time, scopes ...string) *Tokens {
	if early <= 0 {
		early = DefaultTokenEarlyExpiry
	}
	if now == nil {
		now = time.Now
	}
	if client == nil {
		client = NewHTTPClient(10*time.Second, 4, nil)
	}
	t := &Tokens{
		cc:     clientcredentials.Config{ClientID: clientID, ClientSecret: clientSecret, TokenURL: tokenURL, Scopes: scopes},
		client: client,
		early:  early,
		now:    now,
	}
	secrets := append([]string{clientSecret}, basicPairs(clientID, clientSecret)...)
	t.secrets.Store(&secrets)
	return t
}

// keptTokens is how many of the last access tokens issued Scrub hides: the
// one in use and the one it replaced, which a late answer may still echo.
const keptTokens = 2

// Scrub returns s with the client secret and the last access tokens issued
// replaced by Redacted (docs/security.md, "Secrets"): for answers of the
// API and of the token endpoint before they go into an error, a log line,
// `streamsync status` or the attempt log. A nil *Tokens scrubs nothing.
func (t *Tokens) Scrub(s string) string {
	if t == nil {
		return s
	}
	return Scrub(s, *t.secrets.Load()...)
}

// remember adds an access token to what Scrub hides. Called with t.mu held.
func (t *Tokens) remember(tok string) {
	old := *t.secrets.Load()
	base := 1 + len(basicPairs(t.cc.ClientID, t.cc.ClientSecret))
	kept := old[base:]
	if len(kept) >= keptTokens {
		kept = kept[len(kept)-keptTokens+1:]
	}
	next := append(append(append([]string(nil), old[:base]...), kept...), tok)
	t.secrets.Store(&next)
}

// scrubbedError is a token fetch's error with the secrets taken out of its
// message; Unwrap still reaches the *oauth2.RetrieveError, whose body was
// scrubbed in place.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrub takes the secrets out of a failed fetch's error: the endpoint's
// answer may echo the credentials it was sent.
func (t *Tokens) scrub(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		re.Body = []byte(t.Scrub(string(re.Body)))
		re.ErrorDescription = t.Scrub(re.ErrorDescription)
		re.ErrorURI = t.Scrub(re.ErrorURI)
		re.ErrorCode = t.Scrub(re.ErrorCode)
	}
	return &scrubbedError{msg: t.Scrub(err.Error()), err: err}
}

// Get returns a valid access token, fetching one when needed (one fetch at
// a time). Callers that waited for a fetch get its token, or its error
// wrapped with ErrSharedFetch without asking again. fetched tells whether
// this call asked the token endpoint. A fetch's error wraps the oauth2
// error (*oauth2.RetrieveError carries the endpoint's answer), with the
// client secret taken out of both (Scrub).
func (t *Tokens) Get(ctx context.Context) (tok string, fetched bool, err error) {
	seen := t.fetches.Load()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fetches.Load() != seen && t.lastErr != nil {
		return "", false, fmt.Errorf("%w (%w)", ErrSharedFetch, t.lastErr)
	}
	if t.tok != nil && (t.exp.IsZero() || t.now().Add(t.early).Before(t.exp)) {
		return t.tok.AccessToken, false, nil
	}
	nt, err := t.cc.Token(context.WithValue(ctx, oauth2.HTTPClient, t.client))
	t.fetches.Add(1)
	if err != nil {
		t.lastErr = fmt.Errorf("token from %s: %w", RedactURL(t.cc.TokenURL), t.scrub(err))
		return "", true, t.lastErr
	}
	t.lastErr = nil
	t.remember(nt.AccessToken)
	t.tok, t.exp = nt, time.Time{}
	if !nt.Expiry.IsZero() {
		// The library dates expiry by the wall clock; keep it on ours.
		t.exp = t.now().Add(time.Until(nt.Expiry))
	}
	return nt.AccessToken, true, nil
}

// Invalidate drops the token if it is still the one that was refused.
func (t *Tokens) Invalidate(refused string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && t.tok.AccessToken == refused {
		t.tok = nil
	}
}
