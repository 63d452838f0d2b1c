package partner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/streamsync/streamsync/event"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/time/rate"
)

// Defaults of Config.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultTokenEarlyExpiry = 2 * time.Second
	DefaultMaxConns         = 512
)

// Config configures the Sink.
type Config struct {
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
	Now              func() time.Time
	Logger           *slog.Logger
	// OnBreakerChange, when set, is told every change of the breaker's state.
	OnBreakerChange func(from, to gobreaker.State)
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
	c.Breaker.setDefaults()
}

// Validate reports a setting the sink cannot work with.
func (c Config) Validate() error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("partner sink: base URL %q is not an absolute http(s) URL", c.BaseURL)
	}
	if c.RateLimit < 0 {
		return errors.New("partner sink: rate limit must not be negative")
	}
	return nil
}

// Result is one delivery of one event: the classified answer of the last
// call, and how many calls counted as attempts.
type Result struct {
	Verdict
	Status  int           // HTTP status of the last call; 0 when none
	Latency time.Duration // of the last call
	// Calls is the number of partner calls that count as attempts: calls
	// made while the breaker was closed. Probes of a half-open breaker that
	// fail do not count, so an outage costs no event its attempts.
	Calls int
}

// Sink delivers events to the partner API.
type Sink struct {
	cfg     Config
	base    string
	client  *http.Client
	tokens  *tokens
	limiter *rate.Limiter
	breaker *gobreaker.CircuitBreaker[Result]
	log     *slog.Logger
}

// New builds a Sink.
func New(cfg Config) (*Sink, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = cfg.MaxConns
	tr.MaxIdleConnsPerHost = cfg.MaxConns
	tr.MaxConnsPerHost = cfg.MaxConns
	tr.DialContext = (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext
	s := &Sink{
		cfg:    cfg,
		base:   strings.TrimRight(cfg.BaseURL, "/"),
		client: &http.Client{Transport: tr},
		log:    cfg.Logger,
	}
	if cfg.ClientID != "" {
		s.tokens = &tokens{
			cc:    clientcredentials.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: cfg.TokenURL},
			early: cfg.TokenEarlyExpiry,
			now:   cfg.Now,
		}
	}
	if cfg.RateLimit > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), max(1, int(cfg.RateLimit/10)))
	}
	blog := &breakerLog{log: s.log, now: cfg.Now, summaryEvery: defaultBreakerSummary}
	s.breaker = newBreaker(cfg.Breaker, func(from, to gobreaker.State) {
		blog.change(from, to) // the change once, then a summary a minute
		if cfg.OnBreakerChange != nil {
			cfg.OnBreakerChange(from, to)
		}
	})
	return s, nil
}

// Close releases idle connections.
func (s *Sink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// Send delivers one event. While the partner is down it waits for the
// breaker instead of failing; it returns when the partner answered with
// something other than a failed probe, or when ctx ends (Aborted).
func (s *Sink) Send(ctx context.Context, e event.Event) Result {
	counted := 0
	for {
		if err := s.awaitBreaker(ctx); err != nil {
			return Result{Verdict: Verdict{Class: Aborted, Detail: err.Error()}, Calls: counted}
		}
		if s.limiter != nil {
			if err := s.limiter.Wait(ctx); err != nil {
				return Result{Verdict: Verdict{Class: Aborted, Detail: err.Error()}, Calls: counted}
			}
		}
		probing := s.breaker.State() != gobreaker.StateClosed
		r, err := s.breaker.Execute(func() (Result, error) {
			r := s.call(ctx, e)
			switch r.Class {
			case Transient:
				return r, errTransient
			case Aborted:
				return r, errAborted
			}
			return r, nil
		})
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			continue
		}
		if r.Class == Transient && probing {
			continue // a failed probe: the partner is still down, and this event keeps its attempts
		}
		if r.Class != Aborted {
			counted += r.Calls
		}
		r.Calls = counted
		return r
	}
}

var (
	errTransient = errors.New("transient partner failure")
	errAborted   = errors.New("delivery aborted")
)

// awaitBreaker returns once the breaker lets calls through, or ctx ends.
func (s *Sink) awaitBreaker(ctx context.Context) error {
	for s.breaker.State() == gobreaker.StateOpen || s.breaker.Counts().Requests >= s.cfg.Breaker.maxProbes() && s.breaker.State() == gobreaker.StateHalfOpen {
		t := time.NewTimer(s.cfg.Breaker.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return ctx.Err()
}

// call makes one request, and once more at once with a fresh token after a 401.
func (s *Sink) call(ctx context.Context, e event.Event) Result {
	r := s.callOnce(ctx, e)
	if r.Class == Unauthorized && s.tokens != nil {
		r2 := s.callOnce(ctx, e) // the refusal and the retry are one attempt
		if r2.Class == Unauthorized {
			r2.Class = Transient // credentials refused twice: retried with backoff, then exhausted
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

func (s *Sink) callOnce(ctx context.Context, e event.Event) Result {
	method, target := http.MethodPut, s.base+"/v1/"+e.Entity+"/"+url.PathEscape(e.Key)
	var body []byte
	if e.Op == event.OpDelete {
		method, target = http.MethodDelete, target+"?version="+strconv.FormatInt(e.Version, 10)
	} else {
		pb := putBody{Account: e.Account, Version: e.Version, Data: e.Data}
		if e.HasParent() {
			pb.Parent = &parentRef{Entity: e.ParentEntity, Key: e.ParentKey}
		}
		var err error
		if body, err = json.Marshal(pb); err != nil {
			return Result{Verdict: Verdict{Class: Permanent, Detail: "encode body: " + err.Error()}}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return Result{Verdict: Verdict{Class: Permanent, Detail: "build request: " + err.Error()}}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Idempotency-Key", e.ID)
	if e.TraceParent != "" {
		req.Header.Set("traceparent", e.TraceParent)
	}
	tok := ""
	if s.tokens != nil {
		if tok, err = s.tokens.get(ctx); err != nil {
			return Result{Verdict: Classify(method, 0, nil, nil, err, s.cfg.Now())}
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	start := time.Now()
	resp, err := s.client.Do(req)
	latency := time.Since(start)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("timeout after %s: %w", s.cfg.Timeout, err)
		}
		return Result{Verdict: Classify(method, 0, nil, nil, err, s.cfg.Now()), Latency: latency, Calls: 1}
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	v := Classify(method, resp.StatusCode, resp.Header, head, nil, s.cfg.Now())
	if v.Class == Unauthorized && s.tokens != nil {
		s.tokens.invalidate(tok)
	}
	return Result{Verdict: v, Status: resp.StatusCode, Latency: latency, Calls: 1}
}
