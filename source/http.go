package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/streamsync/streamsync/internal/apiclient"
)

// StatusError is an answer of the source API other than the one expected.
type StatusError struct {
	// Label names the API in the message: "source", or what Config.Label
	// says (e.g. "partner").
	Label       string
	Method, URL string
	Status      int
	Body        string        // the first bytes of the answer
	RetryAfter  time.Duration // from Retry-After; 0 when absent
	Location    string        // of a 3xx, which is never followed
	// Refused: the partner's answer rules call the answer auth_refused (a
	// 200 {"code":40100}, say): our credentials are not accepted.
	Refused bool
}

func (e *StatusError) Error() string {
	label := e.Label
	if label == "" {
		label = DefaultLabel
	}
	s := fmt.Sprintf("%s %s %s: status %d", label, e.Method, e.URL, e.Status)
	if e.Location != "" {
		s += " to " + e.Location + " (redirects are not followed)"
	}
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// Transient reports whether asking again may succeed: 408, 429 and 5xx.
func (e *StatusError) Transient() bool {
	return e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// IsTransient reports whether err from a source read may pass when tried
// again: a transient StatusError, a timeout, a connection error, or an
// answer cut short while it was read. A context that ended is not transient.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Transient()
	}
	var ue *url.Error
	return errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, apiclient.ErrAnswerCut)
}

type httpSource struct {
	cfg     Config
	base    string   // without user info, so that no URL in an error or a log holds a password
	baseURL *url.URL // base parsed: the origin links from answers must keep
	user    *url.Userinfo
	client  *http.Client
	tokens  *apiclient.Tokens
}

func newHTTP(cfg Config) *httpSource {
	s := &httpSource{
		cfg:    cfg,
		client: apiclient.NewHTTPClient(cfg.Timeout, 8, cfg.TLS),
	}
	s.baseURL, _ = url.Parse(strings.TrimRight(cfg.BaseURL, "/")) // Validate parsed it
	s.user, s.baseURL.User = s.baseURL.User, nil                  // put back on each request (HTTP Basic)
	s.base = s.baseURL.String()
	if cfg.ClientID != "" {
		tokenURL := cfg.TokenURL
		if tokenURL == "" {
			tokenURL = strings.TrimRight(cfg.BaseURL, "/") + "/oauth/token"
		}
		s.tokens = apiclient.NewTokens(tokenURL, cfg.ClientID, cfg.ClientSecret, s.client, 0, cfg.Now)
	}
	return s
}

// scrub takes our credentials out of an answer's text before it goes into
// an error (docs/security.md, "Secrets"): the client secret, the tokens
// issued, the password of the base URL's user info and its Basic form.
func (s *httpSource) scrub(text string) string {
	text = s.tokens.Scrub(text)
	if s.user != nil {
		if pw, ok := s.user.Password(); ok {
			text = apiclient.Scrub(text, pw, s.user.Username()+":"+pw)
		}
	}
	return text
}

func (s *httpSource) Kind() string { return KindHTTP }

func (s *httpSource) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

func (s *httpSource) Entities(context.Context) ([]string, error) {
	return s.cfg.Entities, nil
}

type getAnswer struct {
	Account string          `json:"account"`
	Version int64           `json:"version"`
	Data    json.RawMessage `json:"data"`
	Parent  *Ref            `json:"parent"`
}

// Get is GET /v1/{entity}/{key} (docs/partner-api.md); 404 is not found.
func (s *httpSource) Get(ctx context.Context, entity, key string) (Record, bool, error) {
	target := s.base + "/v1/" + apiclient.PathSegment(entity) + "/" + apiclient.PathSegment(key)
	body, status, err := s.do(ctx, target, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return Record{}, false, err
	}
	if status == http.StatusNotFound {
		return Record{}, false, nil
	}
	var a getAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return Record{}, false, fmt.Errorf("%s GET %s: answer is not a record: %w", s.cfg.Label, target, err)
	}
	r := Record{Entity: entity, Key: key, Account: a.Account, Version: a.Version, Data: a.Data, Parent: a.Parent}
	if err := check(r); err != nil {
		return Record{}, false, fmt.Errorf("%s GET %s: answer is not a valid record: %w", s.cfg.Label, target, err)
	}
	return r, true, nil
}

// do makes one GET, and once more at once with a fresh token after a 401.
// It returns the body of an answer whose status is one of ok.
func (s *httpSource) do(ctx context.Context, target string, ok ...int) ([]byte, int, error) {
	body, status, tok, err := s.once(ctx, target, ok)
	var se *StatusError
	if s.tokens != nil && errors.As(err, &se) && se.Status == http.StatusUnauthorized {
		s.tokens.Invalidate(tok)
		body, status, _, err = s.once(ctx, target, ok)
	}
	return body, status, err
}

func (s *httpSource) once(ctx context.Context, target string, ok []int) ([]byte, int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, 0, "", fmt.Errorf("%s GET %s: %w", s.cfg.Label, target, err)
	}
	req.Header.Set("Accept", "application/json")
	if s.user != nil && req.URL.User == nil && req.URL.Host == s.baseURL.Host {
		req.URL.User = s.user
	}
	tok := ""
	if s.tokens != nil {
		if tok, _, err = s.tokens.Get(ctx); err != nil {
			return nil, 0, "", fmt.Errorf("%s (%s.client_id %s): %w", s.cfg.Label, s.cfg.Setting, s.cfg.ClientID, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, 0, tok, fmt.Errorf("%s GET %s: %w", s.cfg.Label, target, err)
	}
	defer resp.Body.Close()
	for _, st := range ok {
		if resp.StatusCode == st {
			body, err := readWhole(resp.Body, s.cfg.MaxAnswer)
			if err != nil {
				return nil, 0, tok, fmt.Errorf("%s GET %s: %w", s.cfg.Label, target, err)
			}
			return body, resp.StatusCode, tok, nil
		}
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	se := &StatusError{Label: s.cfg.Label, Method: http.MethodGet, URL: target, Status: resp.StatusCode,
		Body: s.scrub(strings.TrimSpace(string(head)))} // an answer may echo the credentials
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		se.Location = resp.Header.Get("Location")
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if n, err := strconv.Atoi(ra); err == nil && n >= 0 {
			se.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return nil, resp.StatusCode, tok, se
}
