package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/streamsync/streamsync/inbound"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/profile"
)

// The Standard Webhooks' own test vector (the spec's libraries test it).
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// testProfile maps {"test": N} to a contact keyed N, and {"bad": …} to a
// change without a key (which does not map).
const testProfile = `name: hooks
base_url: https://api.example/
defaults:
  upsert: {method: PUT, path: "/x/{key}"}
  delete: {method: DELETE, path: "/x/{key}"}
  read:
    get: {path: "/x/{key}"}
    list: {path: /x}
    paging: {kind: offset}
    item: '{key: .id, account: "a1", data: .}'
webhooks:
  changes: 'if has("test") then [{entity: "contact", item: {id: (.test | tostring), test: .test}}] elif has("bad") then [{entity: "contact", item: {}}] else [] end'
`

// call is one Append the fake appender took.
type call struct {
	partner string
	via     inbound.Via
	ref     string
	changes []inbound.Change
}

// fakeAppender records what it is given; fail makes it refuse, gate makes
// it wait (entered is signalled first).
type fakeAppender struct {
	mu      sync.Mutex
	calls   []call
	fail    error
	gate    chan struct{}
	entered chan struct{}
}

func (a *fakeAppender) Append(ctx context.Context, partner string, via inbound.Via, ref string, changes []inbound.Change) error {
	a.mu.Lock()
	fail, gate, entered := a.fail, a.gate, a.entered
	a.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail != nil {
		return fail
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, call{partner, via, ref, changes})
	return nil
}

func (a *fakeAppender) taken() []call {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]call(nil), a.calls...)
}

type refusedRow struct{ partner, id, reason string }

type fakeRecorder struct {
	mu   sync.Mutex
	rows []refusedRow
}

func (r *fakeRecorder) Refused(_ context.Context, partner, id, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, refusedRow{partner, id, reason})
}

func (r *fakeRecorder) all() []refusedRow {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]refusedRow(nil), r.rows...)
}

// env is a Handler behind a real HTTP server, over the test Redis.
type env struct {
	url  string
	app  *fakeAppender
	rec  *fakeRecorder
	reg  *prometheus.Registry
	rdb  *redis.Client
	seen string // partner "erp"'s SeenKey
	now  time.Time
	srv  *httptest.Server
	h    *Handler
}

// start serves partner "erp" (testProfile, the vector's secret, unless
// edit changes them) with the clock at the vector's time plus a minute.
func start(t *testing.T, edit func(*Config)) *env {
	t.Helper()
	p, err := profile.Parse([]byte(testProfile), "test")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{app: &fakeAppender{}, rec: &fakeRecorder{}, reg: prometheus.NewRegistry(), rdb: testenv.Redis(t),
		now: time.Unix(vectorTimestamp+60, 0)}
	e.seen = testenv.Prefix(t) + "p:erp:webhook_ids"
	t.Cleanup(func() { testenv.DeleteKeys(e.rdb, e.seen) })
	cfg := Config{
		Partners:   map[string]Partner{"erp": {Profile: p, Secrets: []string{vectorSecret}, SeenKey: e.seen}},
		Appender:   e.app,
		Recorder:   e.rec,
		Registerer: e.reg,
		Now:        func() time.Time { return e.now },
	}
	if edit != nil {
		edit(&cfg)
	}
	h, err := New(cfg, e.rdb)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	mux := http.NewServeMux()
	mux.Handle(Pattern, h)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.url = e.srv.URL
	return e
}

// signed is a webhook's headers signed with secret at ts.
func signed(t *testing.T, secret, id string, ts time.Time, body string) map[string]string {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(id, ts, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"webhook-id": id, "webhook-timestamp": strconv.FormatInt(ts.Unix(), 10), "webhook-signature": sig}
}

// post sends a webhook to partner name and returns the status and the
// decoded answer.
func (e *env) post(t *testing.T, name string, headers map[string]string, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+"/v1/partners/"+name+"/webhooks", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("answer %d is not JSON: %q", resp.StatusCode, b)
	}
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
		t.Errorf("a 503 without Retry-After")
	}
	return resp.StatusCode, out
}

func (e *env) refused(partner, reason string) float64 {
	return testutil.ToFloat64(e.h.metrics.refused.WithLabelValues(partner, reason))
}

func (e *env) outcome(partner, outcome string) float64 {
	return testutil.ToFloat64(e.h.metrics.received.WithLabelValues(partner, outcome))
}

var errDown = errors.New("redis of the inbound stream is away")

// testenvTrickle sends body to partner erp a byte every 20 ms.
func testenvTrickle(t *testing.T, e *env, body string, headers []string) (int, time.Duration) {
	t.Helper()
	return testenv.Trickle(t, strings.TrimPrefix(e.url, "http://"), http.MethodPost, "/v1/partners/erp/webhooks", body, headers...)
}
