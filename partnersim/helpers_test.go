package partnersim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type sim struct {
	tb    testing.TB
	srv   *Server
	url   string
	clock *fakeClock
	token string
}

// start serves a simulator over real HTTP on loopback, with auth on and a
// token already fetched.
func start(tb testing.TB, mutate func(*Options)) *sim {
	tb.Helper()
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	opts := Options{ClientID: "id", ClientSecret: "s3cret", TokenTTL: time.Minute, Now: clock.Now}
	if mutate != nil {
		mutate(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	tb.Cleanup(hs.Close)
	s := &sim{tb: tb, srv: srv, url: hs.URL, clock: clock}
	if opts.ClientID != "" {
		s.token = s.fetchToken()
	}
	return s
}

func (s *sim) fetchToken() string {
	s.tb.Helper()
	st, body := s.do(http.MethodPost, "/oauth/token", "application/x-www-form-urlencoded",
		url.Values{"grant_type": {"client_credentials"}, "client_id": {"id"}, "client_secret": {"s3cret"}}.Encode(), nil)
	if st != http.StatusOK {
		s.tb.Fatalf("token: %d %s", st, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(body, &tok)
	return tok.AccessToken
}

// do sends a request with the current token and returns status and body.
func (s *sim) do(method, path, contentType, body string, hdr map[string]string) (int, []byte) {
	s.tb.Helper()
	resp := s.doResp(method, path, contentType, body, hdr)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, b
}

func (s *sim) doResp(method, path, contentType, body string, hdr map[string]string) *http.Response {
	s.tb.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.tb.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.tb.Fatal(err)
	}
	return resp
}

func (s *sim) put(entity, key, body, idemKey string) (int, map[string]any) {
	s.tb.Helper()
	var hdr map[string]string
	if idemKey != "" {
		hdr = map[string]string{IdempotencyHeader: idemKey}
	}
	st, b := s.do(http.MethodPut, "/v1/"+entity+"/"+url.PathEscape(key), "application/json", body, hdr)
	return st, decode(s.tb, b)
}

func (s *sim) del(entity, key string, version string) (int, map[string]any) {
	s.tb.Helper()
	st, b := s.do(http.MethodDelete, "/v1/"+entity+"/"+url.PathEscape(key)+"?version="+version, "", "", nil)
	return st, decode(s.tb, b)
}

func (s *sim) get(path string) (int, map[string]any) {
	s.tb.Helper()
	st, b := s.do(http.MethodGet, path, "", "", nil)
	return st, decode(s.tb, b)
}

func decode(tb testing.TB, b []byte) map[string]any {
	tb.Helper()
	if len(b) == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("body %q is not a JSON object: %v", b, err)
	}
	return m
}

func rec(account string, version int64, data string) string {
	b, _ := json.Marshal(map[string]any{"account": account, "version": version, "data": json.RawMessage(data)})
	return string(b)
}

func recWithParent(account string, version int64, data, pe, pk string) string {
	b, _ := json.Marshal(map[string]any{"account": account, "version": version, "data": json.RawMessage(data), "parent": map[string]string{"entity": pe, "key": pk}})
	return string(b)
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func decodeBody(tb testing.TB, resp *http.Response) map[string]any {
	tb.Helper()
	b, _ := io.ReadAll(resp.Body)
	return decode(tb, b)
}
