package partnerread

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/apiclient"
	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/profile"
	"github.com/streamsync/streamsync/source"
)

// Kind is what Reader.Kind says.
const Kind = "profile"

// Defaults of Config.
const (
	DefaultTimeout  = 10 * time.Second
	DefaultRetries  = 4
	DefaultMaxConns = 8
)

// AuthorizeFunc adds the profile's credentials to a request about to be
// sent, body its exact bytes (nil for none), nonce fresh per call: the
// profile's Authorize.
type AuthorizeFunc func(r *http.Request, body []byte, now time.Time, nonce string) error

// Config configures a Reader.
type Config struct {
	Profile *profile.Profile
	// BaseURL, when set (sink.base_url), wins over the profile's.
	BaseURL string
	// Timeout is one request's (default 10s); the profile's limits.timeout,
	// when set, wins.
	Timeout time.Duration
	// Retries is how often a read that failed transiently (408, 429, 5xx, a
	// timeout, a connection error, an answer cut short) is asked again,
	// backing off from 200 ms, honouring Retry-After up to a minute.
	Retries  int
	MaxConns int
	TLS      *tls.Config
	// Authorize adds credentials to every request; nil: the profile's auth
	// (Profile.Authorize, and a token of its OAuth2 client credentials).
	Authorize AuthorizeFunc
	// IDs returns the partner's id of one of our records from the id map
	// ("" when it holds none); needed when read.get names {partner_id}.
	IDs func(ctx context.Context, entity, key string) (string, error)
	// Find looks a record up at the partner by our key when the id map
	// holds no id: found false when the partner has none. Nil: the
	// profile's find request, when the entity has one.
	Find func(ctx context.Context, entity, key string) (partnerID string, found bool, err error)
	// Entities are the entities to read (Entities); nil: the caller's.
	Entities []string
	Now      func() time.Time
	Logger   *slog.Logger
}

// Reader reads a partner's records by its profile. It is a source.Source
// (Kind "profile"), so reconciliation reads it as it reads ours.
type Reader struct {
	cfg    Config
	p      *profile.Profile
	client *http.Client
}

// New builds a Reader.
func New(cfg Config) (*Reader, error) {
	if cfg.Profile == nil {
		return nil, errors.New("partnerread: no profile")
	}
	if _, _, _, t := cfg.Profile.Limits(); t > 0 {
		cfg.Timeout = t // the profile's limits.timeout wins, as for the sink
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Retries <= 0 {
		cfg.Retries = DefaultRetries
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Reader{cfg: cfg, p: cfg.Profile.WithBaseURL(cfg.BaseURL), client: apiclient.NewHTTPClient(cfg.Timeout, cfg.MaxConns, cfg.TLS)}
	if r.cfg.Authorize == nil {
		r.cfg.Authorize = r.profileAuth()
	}
	if r.cfg.Find == nil {
		r.cfg.Find = r.find
	}
	return r, nil
}

// profileAuth is the profile's own auth: Profile.Authorize for the static
// kinds and signatures, and a bearer token of its OAuth2 client
// credentials (docs/partners.md, "Auth").
func (r *Reader) profileAuth() AuthorizeFunc {
	tokenURL, id, secret, scopes, ok := r.p.OAuth2()
	if !ok {
		return r.p.Authorize
	}
	tokens := apiclient.NewTokens(tokenURL, id, secret, apiclient.NewHTTPClient(r.cfg.Timeout, 4, r.cfg.TLS), apiclient.DefaultTokenEarlyExpiry, r.cfg.Now, scopes...)
	return func(req *http.Request, body []byte, now time.Time, nonce string) error {
		tok, _, err := tokens.Get(req.Context())
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		return r.p.Authorize(req, body, now, nonce)
	}
}

// find is the profile's find request for one record: the partner's id of
// the record of our key, found false when it has none (or the entity has
// no find request).
func (r *Reader) find(ctx context.Context, entity, key string) (string, bool, error) {
	rr, err := r.p.RenderOp(profile.OpFind, event.Event{Entity: entity, Key: key, Op: event.OpUpsert}, profile.IDs{})
	if errors.Is(err, profile.ErrNoRequest) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	a, err := r.send(ctx, rr, profile.MaxGetBytes, true)
	if err != nil || a.status == http.StatusNotFound {
		return "", false, err
	}
	if err := r.judge(entity, rr, a); err != nil {
		return "", false, err
	}
	return r.p.CreatedID(entity, profile.OpFind, a.header, a.body)
}

// judge applies the profile's answer rules to a read's 200: a rule that
// says the answer is not a success (an error inside a 200, such as
// {"code":40100}) makes it an error, never data.
func (r *Reader) judge(entity string, rr profile.Rendered, a answer) error {
	v, ok := r.p.Judge(entity, a.status, a.header, a.body, r.cfg.Now())
	if !ok || v.Class == delivery.Delivered {
		return nil
	}
	err := &source.StatusError{Label: "partner", Method: rr.Method, URL: apiclient.RedactURL(rr.URL), Status: a.status,
		Body: fmt.Sprintf("the profile's answer rules call this answer %s: %s", v.Class, r.p.Mask(v.Detail))}
	err.Refused = v.Class == delivery.AuthRefused
	if v.Class == delivery.Transient {
		// read again like a 503 (the message says what was answered)
		err.Status, err.RetryAfter = http.StatusServiceUnavailable, v.Wait
		err.Body = fmt.Sprintf("answered %d; %s", a.status, err.Body)
	}
	return err
}

// Kind is "profile".
func (r *Reader) Kind() string { return Kind }

// Close releases idle connections.
func (r *Reader) Close() error {
	r.client.CloseIdleConnections()
	return nil
}

// Entities are Config.Entities.
func (r *Reader) Entities(context.Context) ([]string, error) { return r.cfg.Entities, nil }

// Hash is the profile's value-equality hash, for reconcile.Config.Hash.
func (r *Reader) Hash(entity string, data json.RawMessage) string { return r.p.Hash(entity, data) }

// answer is one 200 (or, for a point read, 404) answer.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// send makes one request of rr, retried while it fails transiently; an
// answer other than 200 (or 404 when notFoundOK) is a *source.StatusError.
func (r *Reader) send(ctx context.Context, rr profile.Rendered, limit int64, notFoundOK bool) (answer, error) {
	wait := 200 * time.Millisecond
	for try := 0; ; try++ {
		a, err := r.once(ctx, rr, limit, notFoundOK)
		if err == nil || try >= r.cfg.Retries || !source.IsTransient(err) || ctx.Err() != nil {
			return a, err
		}
		d := wait
		var se *source.StatusError
		if errors.As(err, &se) && se.RetryAfter > 0 {
			d = min(se.RetryAfter, time.Minute)
		}
		r.cfg.Logger.Warn("partner: read failed, asking again", "url", apiclient.RedactURL(rr.URL), "in", d, "err", err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return answer{}, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 10*time.Second)
	}
}

func (r *Reader) once(ctx context.Context, rr profile.Rendered, limit int64, notFoundOK bool) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	shown := apiclient.RedactURL(rr.URL)
	var body io.Reader
	if rr.Body != nil {
		body = bytes.NewReader(rr.Body)
	}
	req, err := http.NewRequestWithContext(ctx, rr.Method, rr.URL, body)
	if err != nil {
		return answer{}, fmt.Errorf("partner %s %s: %w", rr.Method, shown, err)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range rr.Headers {
		req.Header.Set(k, v)
	}
	if r.cfg.Authorize != nil {
		if err := r.cfg.Authorize(req, rr.Body, r.cfg.Now(), nonce()); err != nil {
			return answer{}, fmt.Errorf("partner %s %s: auth: %w", rr.Method, shown, err)
		}
	}
	resp, err := r.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = shown // the URL as rendered: not the credentials auth added to its query
		}
		return answer{}, fmt.Errorf("partner %s %s: %w", rr.Method, shown, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK || (notFoundOK && resp.StatusCode == http.StatusNotFound) {
		b, err := apiclient.ReadBody(resp.Body, limit)
		if err != nil {
			return answer{}, fmt.Errorf("partner %s %s: reading the answer: %w", rr.Method, shown, err)
		}
		if b.Over {
			return answer{}, fmt.Errorf("partner %s %s: the answer is over %d bytes (read.max_page_bytes): not read further, and not used in part", rr.Method, shown, limit)
		}
		return answer{status: resp.StatusCode, header: resp.Header, body: b.Bytes}, nil
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	// an answer may echo our credentials (an API key, a signature's secret)
	se := &source.StatusError{Label: "partner", Method: rr.Method, URL: shown, Status: resp.StatusCode, Body: r.p.Mask(strings.TrimSpace(string(head)))}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		se.Location = resp.Header.Get("Location") // never followed
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if n, err := strconv.Atoi(ra); err == nil && n >= 0 {
			se.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return answer{}, se
}

func nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Profile is the profile the reader reads by (its base URL applied).
func (r *Reader) Profile() *profile.Profile { return r.p }

// Reads reports whether the profile can read entity (it has a read
// section, its own or the defaults'): reconciliation leaves the others out,
// saying so, rather than failing.
func (r *Reader) Reads(entity string) bool { return r.p.CanRead(entity) }
