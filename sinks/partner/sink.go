package partner

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/apiclient"
	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/internal/idmap"
	"github.com/streamsync/streamsync/profile"
	"golang.org/x/time/rate"
)

// Defaults of Config.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultTokenEarlyExpiry = apiclient.DefaultTokenEarlyExpiry
	DefaultMaxConns         = 512
)

// Config configures the Sink.
type Config struct {
	// Settings names where the settings came from, for messages: "sink"
	// (when empty), "partners.<name>" or "ours" (docs/partners.md).
	Settings     string
	BaseURL      string
	TokenURL     string // {BaseURL}/oauth/token when empty
	ClientID     string // empty: no auth
	ClientSecret string
	Timeout      time.Duration // per request
	RateLimit    float64       // calls per second; 0: no limit
	// MaxConns bounds the connections kept to the partner.
	MaxConns int
	// TokenEarlyExpiry: a token is replaced this long before it expires.
	TokenEarlyExpiry time.Duration
	Breaker          BreakerConfig
	// AuthLogEvery: refused credentials are logged as an ERROR at most this
	// often (DefaultAuthLogEvery, a minute).
	AuthLogEvery time.Duration
	// Now is the clock of the breaker, Retry-After and token expiry (time.Now).
	Now    func() time.Time
	Logger *slog.Logger
	// Registerer gets the sink's gauges; nil registers nothing.
	Registerer prometheus.Registerer
	// OnBreakerChange, when set, is told every change of the breaker's state
	// (called with the breaker's lock held: it must not call the Sink).
	OnBreakerChange func(from, to BreakerState)
	// WrapTransport, when set, wraps the HTTP transport of partner calls
	// (tracing.Tracer.Transport makes each call a client span).
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// TLS of the partner's API and token endpoint: a custom CA, a client
	// certificate (sink.tls_*_file; docs/security.md, "Transport"); nil:
	// the system's roots.
	TLS *tls.Config
	// Profile, when set, is the partner's API (docs/partners.md) spoken
	// instead of the built-in one: its requests, auth, answer rules,
	// limits and bulk endpoints; its auth replaces ClientID and
	// ClientSecret, its rate and timeout (when set) RateLimit and Timeout.
	// Nil: the built-in API of docs/partner-api.md.
	Profile *profile.Profile
	// IDs is the id map of the partner, required when the profile's
	// partner assigns the ids of an entity's records (or of a parent's
	// that a child's request names).
	IDs idmap.Map
}

func (c *Config) setDefaults() {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.TokenURL == "" {
		c.TokenURL = strings.TrimRight(c.BaseURL, "/") + "/oauth/token"
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.TokenEarlyExpiry <= 0 {
		c.TokenEarlyExpiry = DefaultTokenEarlyExpiry
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.AuthLogEvery <= 0 {
		c.AuthLogEvery = DefaultAuthLogEvery
	}
	c.Breaker.setDefaults()
}

// Validate reports a setting the sink cannot work with.
func (c Config) Validate() error {
	if c.Profile != nil && c.BaseURL == "" {
		return c.validRate() // the profile's base_url is used
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("partner sink: base URL %q is not an absolute http(s) URL", apiclient.RedactURL(c.BaseURL))
	}
	return c.validRate()
}

func (c Config) validRate() error {
	if c.RateLimit < 0 {
		return errors.New("partner sink: rate limit must not be negative")
	}
	return nil
}

// result is one call's answer, or one delivery's, with what only the sink
// needs of it.
type result struct {
	delivery.Answer
	// unsettled: the last call reached the partner, or may have, and its
	// answer was not read to the end (a timeout on our side, a connection
	// cut mid-call, a stop): the partner may still be working on it.
	unsettled bool
	// shared: the token fetch that failed was another caller's.
	shared bool
	// noCall: no call was made (a profile's delivery decided without the
	// partner, or a guard or limit stopped it before the call): the
	// breaker is not told of it.
	noCall bool
	// batched: the call was a bulk request another item of the batch
	// reports to the breaker.
	batched bool
}

// Sink delivers events to the partner API.
type Sink struct {
	cfg    Config
	base   string
	client *http.Client
	tokens *apiclient.Tokens
	// lastBearer is the Authorization header of the last token used.
	lastBearer atomic.Pointer[bearerHeader]
	limiter    *rate.Limiter
	breaker    *breaker
	auth       *auth
	m          *metrics
	log        *slog.Logger
	// lastFailure is the detail of the last transient failure, for the log
	// line that says the breaker opened.
	lastFailure atomic.Pointer[string]
	// urlSecrets: the password of the base URL's user info, and its Basic
	// pair, which answers may echo.
	urlSecrets []string
	// clientID and tokenURL are the OAuth2 client's, for Health.
	clientID, tokenURL string
	// prof is set when the sink speaks a profile's API.
	prof *profiled
}

// noRedirect makes a client hand back a 3xx as the answer: a redirect is
// never followed (docs/partner-faults.md, "What counts as the partner's answer"), on
// the record requests and on the token request alike.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// New builds a Sink.
func New(cfg Config) (*Sink, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("partner sink metrics: %w", err)
	}
	s := &Sink{
		cfg:      cfg,
		base:     strings.TrimRight(cfg.BaseURL, "/"),
		client:   apiclient.NewHTTPClient(cfg.Timeout, cfg.MaxConns, cfg.TLS),
		m:        m,
		log:      cfg.Logger,
		clientID: cfg.ClientID,
		tokenURL: cfg.TokenURL,
	}
	if u, _ := url.Parse(cfg.BaseURL); u != nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			s.urlSecrets = []string{pw, u.User.Username() + ":" + pw}
		}
	}
	s.auth = &auth{setting: cmp.Or(cfg.Settings, "sink") + ".client_id", clientID: cfg.ClientID, tokenURL: apiclient.RedactURL(cfg.TokenURL), every: cfg.AuthLogEvery, now: cfg.Now, log: cfg.Logger, m: m}
	if cfg.ClientID != "" {
		s.tokens = apiclient.NewTokens(cfg.TokenURL, cfg.ClientID, cfg.ClientSecret, apiclient.NewHTTPClient(cfg.Timeout, 4, cfg.TLS), cfg.TokenEarlyExpiry, cfg.Now)
	}
	if cfg.RateLimit > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), max(1, int(cfg.RateLimit/10)))
	}
	blog := &breakerLog{log: s.log, now: cfg.Now, summaryEvery: defaultBreakerSummary}
	s.breaker = newBreaker(cfg.Breaker, cfg.Now, func(from, to BreakerState) {
		m.breaker.Set(float64(to))
		last := ""
		if p := s.lastFailure.Load(); p != nil {
			last = *p
		}
		blog.change(from, to, last) // the change once, then a summary a minute
		if cfg.OnBreakerChange != nil {
			cfg.OnBreakerChange(from, to)
		}
	})
	if cfg.WrapTransport != nil {
		s.client.Transport = cfg.WrapTransport(s.client.Transport)
	}
	if cfg.Profile != nil {
		if err := s.newProfiled(cfg); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Close releases idle connections.
func (s *Sink) Close() error {
	if s.prof != nil {
		s.prof.cancel()
	}
	s.client.CloseIdleConnections()
	return nil
}

// String never shows the client secret: a Config printed with %v or %+v,
// or logged, is safe (docs/security.md, "Secrets").
func (c Config) String() string {
	type plain Config // without this method
	p := plain(c)
	p.BaseURL, p.TokenURL = apiclient.RedactURL(c.BaseURL), apiclient.RedactURL(c.TokenURL)
	if p.ClientSecret != "" {
		p.ClientSecret = apiclient.Redacted
	}
	return fmt.Sprintf("%+v", p)
}

// GoString is String, for %#v.
func (c Config) GoString() string { return "partner.Config" + c.String() }

// Health is what the sink knows of the partner, for `streamsync status`.
type Health struct {
	Breaker BreakerState
	// AuthOK is false while the token endpoint refuses the credentials;
	// AuthError is then its answer and AuthRefusedSince the first refusal.
	AuthOK           bool
	AuthError        string
	AuthRefusedSince time.Time
	ClientID         string
	TokenURL         string
}

// Health reports the breaker and the credentials now.
func (s *Sink) Health() Health {
	ok, detail, since := s.auth.state()
	h := Health{Breaker: s.breaker.State(), AuthOK: ok, AuthError: detail, ClientID: s.clientID}
	if s.tokens != nil {
		h.TokenURL = apiclient.RedactURL(s.tokenURL)
	}
	if !ok {
		h.AuthRefusedSince = since
	}
	return h
}

// Send delivers one event. While the partner is down (docs/events.md) it waits
// for the breaker instead of failing, and so it does while the token
// endpoint refuses the credentials; it returns when the partner answered
// with something other than a failed probe, or when ctx ends (delivery.Aborted).
// The Guard ctx carries (delivery.WithGuard), if any, guards every call, as
// in SendGuarded.
func (s *Sink) Send(ctx context.Context, e event.Event) delivery.Answer {
	return s.SendGuarded(ctx, e, delivery.GuardFrom(ctx))
}

// SendGuarded is Send with g asked before every call — after any wait for
// the rate limit or the breaker, and before the call again after a 401 —
// and told of every call that may still be at the partner. A call g
// refuses is not made: the delivery ends delivery.Aborted. A nil g guards
// nothing.
func (s *Sink) SendGuarded(ctx context.Context, e event.Event, g delivery.Guard) delivery.Answer {
	counted := 0
	for {
		if s.limiter != nil {
			if err := s.limiter.Wait(ctx); err != nil {
				return delivery.Answer{Class: delivery.Aborted, Detail: err.Error(), Calls: counted}
			}
		}
		probe, err := s.awaitBreaker(ctx)
		if err != nil {
			return delivery.Answer{Class: delivery.Aborted, Detail: err.Error(), Calls: counted}
		}
		var r result
		if s.prof != nil {
			// The profile's delivery asks g before each of its calls.
			if r = s.deliverProfiled(ctx, e, g); r.noCall {
				s.breaker.cancel(probe) // decided without the partner
				r.Calls = counted
				return r.Answer
			}
		} else {
			if err := check(ctx, g); err != nil {
				s.breaker.cancel(probe) // no call was made
				return delivery.Answer{Class: delivery.Aborted, Detail: err.Error(), Calls: counted}
			}
			r = s.call(ctx, e, g)
		}
		o := outcomeOf(r.Class)
		if (r.shared || r.batched) && o == failed {
			o = cut // counted once, by the caller that made the fetch (or the batch's first item)
		}
		if o == failed || o == refused {
			s.lastFailure.Store(&r.Detail)
		}
		s.breaker.done(probe, o, r.RetryAfter)
		switch {
		case r.Class == delivery.Transient && r.shared:
			continue // one failed token fetch is one failure: the callers that waited for it try again
		case r.Class == delivery.AuthRefused:
			continue // events wait while the credentials are refused
		case r.Class == delivery.Transient && (probe || s.breaker.State() != BreakerClosed):
			continue // the partner is down: this event waits and keeps its attempts
		}
		if r.Class != delivery.Aborted {
			counted += r.Calls
		}
		r.Calls = counted
		return r.Answer
	}
}

func outcomeOf(c delivery.Class) outcome {
	switch c {
	case delivery.Transient:
		return failed
	case delivery.AuthRefused:
		return refused
	case delivery.Aborted:
		return cut
	}
	return answered
}

// awaitBreaker returns once the breaker lets a call through (probe: as its
// one probe), or ctx ends.
func (s *Sink) awaitBreaker(ctx context.Context) (probe bool, err error) {
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if probe, ok := s.breaker.admit(); ok {
			return probe, nil
		}
		t := time.NewTimer(s.cfg.Breaker.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
	}
}

// call makes one request, and once more at once with a fresh token after a
// 401 when g lets it; g is told of each call that may still be at the
// partner. The verdict's detail, which goes to the attempt log, dead
// letters and logs, never holds the client secret or a token the partner
// echoed (docs/security.md, "Secrets").
func (s *Sink) call(ctx context.Context, e event.Event, g delivery.Guard) (r result) {
	defer func() { r.Detail = apiclient.Scrub(s.tokens.Scrub(r.Detail), s.urlSecrets...) }()
	r = s.callOnce(ctx, e)
	unsettled(g, r)
	if r.Class == delivery.Unauthorized && s.tokens != nil {
		if err := check(ctx, g); err != nil {
			r.Answer = delivery.Answer{Class: delivery.Aborted, Detail: err.Error()}
			return r
		}
		r2 := s.callOnce(ctx, e) // the refusal and the retry are one attempt
		unsettled(g, r2)
		if r2.Class == delivery.Unauthorized {
			r2.Class = delivery.Transient // credentials refused twice: retried with backoff, then exhausted
		}
		return r2
	}
	return r
}

type putBody struct {
	Account string          `json:"account"`
	Version int64           `json:"version"`
	Data    json.RawMessage `json:"data"`
	Parent  *parentRef      `json:"parent,omitempty"`
}

type parentRef struct {
	Entity string `json:"entity"`
	Key    string `json:"key"`
}

// jsonContentType is shared by every request; nothing changes it.
var jsonContentType = []string{"application/json"}

// bearerHeader is the Authorization header's value for one token.
type bearerHeader struct {
	token string
	value []string // "Bearer <token>"; shared by the requests, nothing changes it
}

// bearer is the Authorization header's value for tok, made once per token
// rather than once per request.
func (s *Sink) bearer(tok string) []string {
	if h := s.lastBearer.Load(); h != nil && h.token == tok {
		return h.value
	}
	h := &bearerHeader{token: tok, value: []string{"Bearer " + tok}}
	s.lastBearer.Store(h)
	return h.value
}

func (s *Sink) callOnce(ctx context.Context, e event.Event) result {
	method, target := s.request(e)
	var body []byte
	if e.Op != event.OpDelete {
		pb := putBody{Account: e.Account, Version: e.Version, Data: e.Data}
		if e.HasParent() {
			pb.Parent = &parentRef{Entity: e.ParentEntity, Key: e.ParentKey}
		}
		var err error
		if body, err = json.Marshal(pb); err != nil {
			return result{Answer: delivery.Answer{Class: delivery.Permanent, Detail: "encode body: " + err.Error()}}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	// The request's context reports whether the call reached the partner
	// (made here, not with req.WithContext, which would copy the request).
	var reached atomic.Bool
	req, err := http.NewRequestWithContext(withReached(ctx, &reached), method, target, bytes.NewReader(body))
	if err != nil {
		return result{Answer: delivery.Answer{Class: delivery.Permanent, Detail: "build request: " + err.Error()}}
	}
	// Set directly, in canonical form: Header.Set's canonicalising and
	// growing showed in the profile of every request.
	req.Header = make(http.Header, 4)
	if body != nil {
		req.Header["Content-Type"] = jsonContentType
	}
	req.Header["Idempotency-Key"] = []string{e.IdemKey()}
	if e.TraceParent != "" {
		req.Header["Traceparent"] = []string{e.TraceParent}
	}
	tok := ""
	if s.tokens != nil {
		var fetched bool
		if tok, fetched, err = s.tokens.Get(ctx); err != nil {
			a := ClassifyToken(err, s.cfg.Now())
			if a.Class == delivery.AuthRefused {
				s.auth.refusedWith(a.Detail)
			}
			return result{Answer: a, shared: errors.Is(err, apiclient.ErrSharedFetch)}
		}
		if fetched {
			s.auth.accepted()
		}
		req.Header["Authorization"] = s.bearer(tok)
	}
	start := time.Now()
	resp, err := s.client.Do(req)
	latency := time.Since(start)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("timeout after %s: %w", s.cfg.Timeout, err)
		}
		a := Classify(method, 0, nil, apiclient.Body{}, err, s.cfg.Now())
		a.Latency, a.Calls = latency, 1
		return result{Answer: a, unsettled: reached.Load()}
	}
	// The answer is trusted only when read to its end (up to 1 MiB).
	answer, rerr := readAnswer(resp)
	_ = resp.Body.Close()
	unread := rerr != nil // the answer was not read to its end: the partner may still be at it
	if rerr != nil && ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		rerr = fmt.Errorf("timeout after %s: %w", s.cfg.Timeout, rerr)
	}
	if rerr == nil && resp.Request != req && (resp.Request == nil || resp.Request.Method != method || resp.Request.URL.String() != req.URL.String()) {
		rerr = errors.New("the answer is not to the request sent")
	}
	a := Classify(method, resp.StatusCode, resp.Header, answer, rerr, s.cfg.Now())
	if a.Class == delivery.Unauthorized && s.tokens != nil {
		s.tokens.Invalidate(tok)
	}
	a.Status, a.Latency, a.Calls = resp.StatusCode, latency, 1
	return result{Answer: a, unsettled: unread}
}
