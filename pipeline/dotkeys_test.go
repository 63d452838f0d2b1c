package pipeline

import (
	"encoding/json"
	"github.com/streamsync/streamsync/inspect"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/sinks/partner"
)

// requestLog is an HTTP front that records the request target of every
// request before handing it on.
type requestLog struct {
	mu      sync.Mutex
	targets []string
	next    http.Handler
}

func (l *requestLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	l.targets = append(l.targets, r.Method+" "+r.RequestURI)
	l.mu.Unlock()
	l.next.ServeHTTP(w, r)
}

func (l *requestLog) seen() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.targets)
}

// Keys "." and ".." are URL dot-segments, which a path cleaner removes —
// also after decoding "%2E" — so PUT /v1/dot/.. became PUT /v1/. They are
// invalid (docs/field-values.md): dead-lettered with a reason that says why,
// never sent. A key of more dots ("...") is an ordinary segment, sent
// escaped, and reaches exactly its record through a reverse proxy (Go's,
// which keeps the escaped path as sent).
func TestDotKeys(t *testing.T) {
	var front *requestLog
	h := newHarness(t, options{
		sink: func(c *partner.Config) {
			target, err := url.Parse(c.BaseURL)
			if err != nil {
				t.Fatal(err)
			}
			front = &requestLog{next: httputil.NewSingleHostReverseProxy(target)}
			hs := httptest.NewServer(front)
			t.Cleanup(hs.Close)
			c.BaseURL = hs.URL
		},
	})
	if _, err := h.sim.Seed(partnersim.SeedSpec{Records: []partnersim.RecordState{
		{Entity: "dot", Key: "x", Account: "acc", Version: 1, Data: json.RawMessage(`{"x":1}`)},
	}}); err != nil {
		t.Fatal(err)
	}

	h.upsert("up-2dots", "acc", "dot", "..", 1, `{"k":".."}`)
	h.upsert("up-1dot", "acc", "dot", ".", 1, `{"k":"."}`)
	h.upsert("up-3dots", "acc", "dot", "...", 1, `{"k":"..."}`)
	h.xadd("id", "del-1dot", "account", "acc", "entity", "dot", "key", ".", "op", "delete", "version", "2")
	h.xadd("id", "child-of-2dots", "account", "acc", "entity", "dot", "key", "c", "op", "upsert", "version", "1",
		"parent_entity", "dot", "parent_key", "..", "data", `{}`)
	h.sync("sync-2dots", "..")
	invalid := []string{"up-2dots", "up-1dot", "del-1dot", "child-of-2dots", "sync-2dots"}
	by := h.waitTerminal(append([]string{"up-3dots"}, invalid...), 15*time.Second)
	if s := by["up-3dots"]; len(s) == 0 || s[len(s)-1] != "delivered" {
		t.Fatalf("up-3dots: steps %v, want delivered; dead letters %+v", s, h.dead())
	}
	dead := map[string]inspect.DeadLetter{}
	for _, d := range h.dead() {
		dead[d.EventID] = d
	}
	for _, id := range invalid {
		if s := by[id]; len(s) == 0 || s[len(s)-1] != "invalid" {
			t.Fatalf("%s: steps %v, want invalid", id, s)
		}
		if d := dead[id]; d.Reason != "invalid" || !strings.Contains(d.Error, "dot-segment") {
			t.Fatalf("%s: dead letter %+v, want dead_reason invalid naming the dot-segment", id, d)
		}
	}

	got := map[string]partnersim.RecordState{}
	for _, r := range h.sim.Snapshot("").Records {
		got[r.Entity+"/"+r.Key] = r
	}
	if len(got) != 2 || string(got["dot/x"].Data) != `{"x":1}` || string(got["dot/..."].Data) != `{"k":"..."}` {
		t.Fatalf("the partner holds %v, want exactly dot/x untouched and dot/...", keysOf(got))
	}
	allowed := []string{"POST /oauth/token", "PUT /v1/dot/%2E%2E%2E"}
	for _, target := range front.seen() {
		if !slices.Contains(allowed, target) {
			t.Fatalf("the partner was sent %q; every request: %v", target, front.seen())
		}
	}
}

func keysOf(m map[string]partnersim.RecordState) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
