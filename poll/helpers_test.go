package poll_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamsync/streamsync/inbound"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnerread"
	"github.com/streamsync/streamsync/poll"
	"github.com/streamsync/streamsync/profile"
)

// rec is one record of the test partner.
type rec struct {
	key, account string
	version      int64
	updated      int64 // unix ms, the partner's clock
	deleted      bool
}

// partner is a small partner API of the built-in shape
// (docs/partner-api.md): GET /v1/{entity}?updated_since=<unix ms>&cursor=C
// lists the records updated at or after updated_since in key order, two a
// page, each with updated_at (RFC 3339) and its parent.
type partner struct {
	t  testing.TB
	hs *httptest.Server

	mu       sync.Mutex
	recs     map[string]*rec
	requests []string // every list request's query
	fail     int      // answer this status instead while not 0
	hook     func()   // called before each answer, outside mu
}

func newPartner(t testing.TB) *partner {
	p := &partner{t: t, recs: map[string]*rec{}}
	p.hs = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.hs.Close)
	return p
}

func (p *partner) put(key string, version, updated int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.recs[key] = &rec{key: key, account: "acc-1", version: version, updated: updated}
}

func (p *partner) setFail(status int) {
	p.mu.Lock()
	p.fail = status
	p.mu.Unlock()
}

func (p *partner) queries() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.requests)
}

func (p *partner) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	hook := p.hook
	p.mu.Unlock()
	if hook != nil {
		hook()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = append(p.requests, r.URL.RawQuery)
	if p.fail != 0 {
		http.Error(w, `{"error":"down"}`, p.fail)
		return
	}
	q := r.URL.Query()
	since, err := strconv.ParseInt(q.Get("updated_since"), 10, 64)
	if err != nil {
		http.Error(w, `{"error":"updated_since"}`, http.StatusBadRequest)
		return
	}
	keys := make([]string, 0, len(p.recs))
	for k := range p.recs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var items []map[string]any
	next := ""
	for _, k := range keys {
		x := p.recs[k]
		if k <= q.Get("cursor") || x.updated < since {
			continue
		}
		if len(items) == 2 {
			next = items[1]["key"].(string)
			break
		}
		items = append(items, map[string]any{"key": k, "account": x.account, "version": x.version, "data": map[string]any{"v": x.version},
			"updated_at": time.UnixMilli(x.updated).UTC().Format(time.RFC3339Nano), "parent": map[string]any{"entity": "company", "key": "co-1"}})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"items": items, "next_cursor": next})
}

// appender stands in for the inbound stream: it keeps every ref it was
// given, and the set of distinct ones (what the ledger would not skip).
type appender struct {
	mu     sync.Mutex
	calls  []string
	failAt int // fail the call with this number (1 = the first) and the ones after, while > 0
	seen   map[string]inbound.Change
}

func (a *appender) Append(_ context.Context, partner string, via inbound.Via, ref string, changes []inbound.Change) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if partner != "sim" || via != inbound.ViaPoll || len(changes) != 1 {
		return fmt.Errorf("append %s %s %d changes", partner, via, len(changes))
	}
	if a.failAt > 0 && len(a.calls)+1 >= a.failAt {
		return errors.New("redis: connection refused")
	}
	a.calls = append(a.calls, ref)
	if a.seen == nil {
		a.seen = map[string]inbound.Change{}
	}
	a.seen[ref] = changes[0]
	return nil
}

func (a *appender) refs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

func (a *appender) distinct() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.seen)
}

// clock is a fake Clock: Now is set by the test, After fires when the
// test calls tick.
type clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []chan time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) After(time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, ch)
	return ch
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// tick moves the clock on by d and wakes every waiter.
func (c *clock) tick(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, ch := range c.waiters {
		ch <- c.now
	}
	c.waiters = nil
}

func (c *clock) waiting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters) > 0
}

// setup is one test's partner, appender, clock, Redis keys and registry.
type setup struct {
	partner *partner
	app     *appender
	clock   *clock
	reg     *prometheus.Registry
	cfg     poll.Config
	list    poll.ListFunc
}

func newSetup(t *testing.T) *setup {
	t.Helper()
	s := &setup{partner: newPartner(t), app: &appender{}, clock: &clock{now: time.UnixMilli(1_800_000_000_000)}, reg: prometheus.NewRegistry()}
	p, err := profile.BuiltIn(profile.Options{BaseURL: s.partner.hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	r, err := partnerread.New(partnerread.Config{Profile: p, Retries: 1, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s.list = poll.ReaderList(r)
	prefix := testenv.Prefix(t) + "{sim}"
	rdb := testenv.Redis(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	s.cfg = poll.Config{Partner: "sim", Entities: []string{"contact"}, Profile: p, Overlap: time.Minute,
		CursorKey: func(e string) string { return prefix + ":p:sim:poll:" + e }, LeaseKey: prefix + ":p:sim:poll:lease",
		Clock: s.clock, Registerer: s.reg}
	return s
}

func (s *setup) poller(t *testing.T, mod ...func(*poll.Config)) *poll.Poller {
	t.Helper()
	cfg := s.cfg
	for _, m := range mod {
		m(&cfg)
	}
	p, err := poll.New(cfg, testenv.Redis(t), s.list, s.app)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (s *setup) state(t *testing.T) poll.State {
	t.Helper()
	st, err := poll.ReadState(context.Background(), testenv.Redis(t), s.cfg.CursorKey("contact"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}
