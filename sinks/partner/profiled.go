package partner

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamsync/streamsync/internal/apiclient"
	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/internal/idmap"
	"github.com/streamsync/streamsync/profile"
)

// profiled is what the sink keeps to speak a partner's API described by a
// profile (docs/partners.md) instead of the built-in one.
type profiled struct {
	p       *profile.Profile
	ids     idmap.Map // nil when no entity's partner assigns ids
	lim     *limits
	timeout time.Duration // one request's

	mu    sync.Mutex
	bulks map[string]*batcher // entity → its batches
	// stop ends the batches' calls when the sink closes.
	stop   context.Context
	cancel context.CancelFunc
}

// idHold is added to the calls of a create when Begin holds it: a delete
// of the record waits that long for the create's answer to be committed.
const idHold = 5 * time.Second

// newProfiled sets s up to speak cfg.Profile: its limits (the profile's
// rate and timeout win over sink.rate_limit and sink.timeout when set), its
// OAuth2 credentials, and its secrets, which every detail is scrubbed of.
func (s *Sink) newProfiled(cfg Config) error {
	p := cfg.Profile
	perSecond, burst, conc, timeout := p.Limits()
	if perSecond <= 0 {
		perSecond, burst = cfg.RateLimit, 0
	}
	if timeout <= 0 {
		timeout = cfg.Timeout
	}
	pr := &profiled{p: p, ids: cfg.IDs, lim: newLimits(perSecond, burst, conc, cfg.Now), timeout: timeout, bulks: map[string]*batcher{}}
	pr.stop, pr.cancel = context.WithCancel(context.Background())
	for name := range p.Entities {
		if (p.AssignsIDs(name) || p.NeedsParentID(name)) && cfg.IDs == nil {
			pr.cancel()
			return fmt.Errorf("partner sink: profile %s: the partner assigns the ids of %s (or of its parent): an id map is required", p.Name, name)
		}
	}
	s.tokens, s.limiter = nil, nil // the profile's auth and per-call limits replace sink.client_id and sink.rate_limit
	s.clientID = ""
	if tokenURL, id, secret, scopes, ok := p.OAuth2(); ok {
		s.tokens = apiclient.NewTokens(tokenURL, id, secret, apiclient.NewHTTPClient(cfg.Timeout, 4, cfg.TLS), cfg.TokenEarlyExpiry, cfg.Now, scopes...)
		s.clientID, s.tokenURL = id, tokenURL
		s.auth.clientID, s.auth.tokenURL = id, apiclient.RedactURL(tokenURL)
	}
	s.urlSecrets = append(s.urlSecrets, p.Secrets()...)
	s.prof = pr
	return nil
}

// scrub takes every secret the sink knows out of s: the profile's
// (Profile.Mask and Profile.Secrets), the OAuth2 client secret and tokens,
// and the base URL's password.
func (s *Sink) scrub(d string) string {
	if s.prof != nil {
		d = s.prof.p.Mask(d)
	}
	return apiclient.Scrub(s.tokens.Scrub(d), s.urlSecrets...)
}

// call is one request of a profile: the rendered request and what judges
// its answer.
type call struct {
	op     profile.Op
	entity string
	r      profile.Rendered
	// key is the idempotency key sent in r.Idempotency's header.
	key         string
	traceParent string
}

// reply is one call's result with what was read of the answer: a create's
// or a find's id is read from it.
type reply struct {
	result
	header http.Header
	body   []byte
	// notFound: the partner has no record of the id the request named (a
	// 404 no rule judged, or a rule's not_found).
	notFound bool
}

// exchange makes c, and once more at once with a fresh token after a 401
// (the refusal and the retry are one attempt), as the built-in path does;
// g is asked before each call and told of each that may still be at the
// partner.
func (s *Sink) exchange(ctx context.Context, g delivery.Guard, c call) reply {
	rp := s.callProfiled(ctx, g, c)
	unsettled(g, rp.result)
	if rp.Class != delivery.Unauthorized || s.tokens == nil {
		return rp
	}
	rp2 := s.callProfiled(ctx, g, c)
	unsettled(g, rp2.result)
	if rp2.Class == delivery.Unauthorized {
		rp2.Class = delivery.Transient // credentials refused twice: retried with backoff, then exhausted
	}
	return rp2
}

// callProfiled makes one call through the profile's limits: the rendered
// request with its exact body bytes (what an HMAC signs is what is sent),
// the idempotency header, the profile's auth; the answer read up to
// apiclient.MaxAnswer and judged by the profile's rules, else by the
// built-in meaning of its status (Classify). A call g refuses, or one the
// limits held until ctx ended, is not made (noCall).
func (s *Sink) callProfiled(ctx context.Context, g delivery.Guard, c call) reply {
	release, err := s.prof.lim.acquire(ctx)
	if err != nil {
		return reply{result: result{Answer: delivery.Answer{Class: delivery.Aborted, Detail: err.Error()}, noCall: true}}
	}
	defer release()
	if err := check(ctx, g); err != nil {
		return reply{result: result{Answer: delivery.Answer{Class: delivery.Aborted, Detail: err.Error()}, noCall: true}}
	}
	timeout := s.prof.timeout
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body *bytes.Reader
	if c.r.Body != nil {
		body = bytes.NewReader(c.r.Body)
	}
	var req *http.Request
	if body != nil {
		req, err = http.NewRequestWithContext(ctx, c.r.Method, c.r.URL, body)
	} else {
		req, err = http.NewRequestWithContext(ctx, c.r.Method, c.r.URL, nil)
	}
	if err != nil {
		return reply{result: result{Answer: delivery.Answer{Class: delivery.Permanent, Detail: "build request: " + err.Error()}, noCall: true}}
	}
	// Set directly, sized once: Header.Set's growing showed in the profile
	// of every request (as on the built-in path, sink.go).
	req.Header = make(http.Header, len(c.r.Headers)+4)
	for k, v := range c.r.Headers {
		req.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	if c.r.Body != nil && req.Header["Content-Type"] == nil {
		req.Header["Content-Type"] = jsonContentType
	}
	if c.r.Idempotency != "" && c.key != "" {
		req.Header[http.CanonicalHeaderKey(c.r.Idempotency)] = []string{c.key}
	}
	if c.traceParent != "" {
		req.Header["Traceparent"] = []string{c.traceParent}
	}
	tok := ""
	if s.tokens != nil {
		var fetched bool
		if tok, fetched, err = s.tokens.Get(ctx); err != nil {
			a := ClassifyToken(err, s.cfg.Now())
			if a.Class == delivery.AuthRefused {
				s.auth.refusedWith(s.scrub(a.Detail))
			}
			return reply{result: result{Answer: a, shared: errors.Is(err, apiclient.ErrSharedFetch)}}
		}
		if fetched {
			s.auth.accepted()
		}
		req.Header["Authorization"] = []string{"Bearer " + tok}
	} else if err := s.prof.p.Authorize(req, c.r.Body, s.cfg.Now(), nonce()); err != nil {
		return reply{result: result{Answer: delivery.Answer{Class: delivery.Permanent, Detail: "auth: " + err.Error()}, noCall: true}}
	}
	var reached atomic.Bool
	req = req.WithContext(withReached(ctx, &reached))
	method := c.r.Method
	if c.op == profile.OpDelete {
		method = http.MethodDelete // a 404 to a delete is "already gone", whatever the partner's method
	}
	start := time.Now()
	resp, err := s.client.Do(req)
	latency := time.Since(start)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = c.r.URL // as rendered: not the key or signature auth added to its query
		}
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("timeout after %s: %w", timeout, err)
		}
		a := Classify(method, 0, nil, apiclient.Body{}, err, s.cfg.Now())
		a.Latency, a.Calls = latency, 1
		return reply{result: result{Answer: a, unsettled: reached.Load()}}
	}
	answer, rerr := apiclient.ReadBody(resp.Body, apiclient.MaxAnswer)
	_ = resp.Body.Close()
	unread := rerr != nil
	if rerr != nil && ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		rerr = fmt.Errorf("timeout after %s: %w", timeout, rerr)
	}
	if rerr == nil && resp.Request != req && (resp.Request == nil || resp.Request.Method != req.Method || resp.Request.URL.String() != req.URL.String()) {
		rerr = errors.New("the answer is not to the request sent")
	}
	a, notFound := s.judge(c.entity, method, resp.StatusCode, resp.Header, answer, rerr)
	if a.Class == delivery.Unauthorized && s.tokens != nil {
		s.tokens.Invalidate(tok)
	}
	a.Status, a.Latency, a.Calls = resp.StatusCode, latency, 1
	if a.Class == delivery.Transient && a.RetryAfter > 0 {
		s.prof.lim.pause(a.RetryAfter) // a rate-limit answer holds the partner, not only this event
	}
	return reply{result: result{Answer: a, unsettled: unread}, header: resp.Header, body: answer.Bytes, notFound: notFound && !unread}
}

// judge is the meaning of an answer: the profile's rules first (failures
// inside 200s, waits from a rate-limit header or the body), else the
// built-in meaning of its status (Classify). An answer not read to its end
// is not judged: it is transient. notFound says the partner has no record
// of the id the request named (a rule's not_found; a 404 no rule judged):
// a delete is then done.
func (s *Sink) judge(entity, method string, status int, h http.Header, answer apiclient.Body, rerr error) (a delivery.Answer, notFound bool) {
	now := s.cfg.Now()
	if rerr == nil {
		if v, ok := s.prof.p.Judge(entity, status, h, answer.Bytes, now); ok {
			a := delivery.Answer{Class: v.Class, Detail: v.Detail, RetryAfter: min(v.Wait, maxRetryAfter)}
			if a.RetryAfter <= 0 {
				a.RetryAfter = retryAfter(h.Get("Retry-After"), now)
			}
			if v.NotFound && method == http.MethodDelete {
				a.Class, a.Detail = delivery.Delivered, v.Detail+" (not found: already gone)"
			}
			return a, v.NotFound
		}
	}
	return Classify(method, status, h, answer, rerr, now), rerr == nil && status == http.StatusNotFound
}

// nonce is 16 random bytes in hex, for signed calls.
func nonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// noCallAnswer is a delivery's answer when no call was made.
func noCallAnswer(class delivery.Class, detail string) result {
	return result{Answer: delivery.Answer{Class: class, Detail: detail}, noCall: true}
}
