package pipeline

import (
	"encoding/json"
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

// Keys "." and ".." are records like any other (docs/field-values.md): they
// were sent as PUT /v1/dot/.., which a path cleaner turns into PUT /v1/.
// Through a reverse proxy (Go's, which keeps the escaped path as sent) to
// partnersim, an upsert and a delete of each, and a sync event reading ".."
// from our source, reach exactly the records "." and "..", and nothing else:
// not /v1/, not the collection, not the record next to them.
func TestDotKeysStayRecords(t *testing.T) {
	ours := newOurSystem(t)
	if _, err := ours.sim.Seed(partnersim.SeedSpec{Records: []partnersim.RecordState{
		{Entity: "sub", Key: "..", Account: "acc", Version: 7, Data: json.RawMessage(`{"from":"source"}`)},
	}}); err != nil {
		t.Fatal(err)
	}
	var front *requestLog
	h := newHarness(t, options{
		cfg: func(c *Config) { c.Records = ours.reader() },
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
	h.sync("sync-2dots", "..")
	ids := []string{"up-2dots", "up-1dot", "up-3dots", "del-1dot", "sync-2dots"}
	by := h.waitTerminal(ids, 15*time.Second)
	for _, id := range ids {
		if s := by[id]; len(s) == 0 || s[len(s)-1] != "delivered" {
			t.Fatalf("%s: steps %v, want delivered; dead letters %+v", id, s, h.dead())
		}
	}

	got := map[string]partnersim.RecordState{}
	for _, r := range h.sim.Snapshot("").Records {
		got[r.Entity+"/"+r.Key] = r
	}
	want := map[string]struct {
		version int64
		deleted bool
		data    string
	}{
		"dot/x":   {1, false, `{"x":1}`},
		"dot/..":  {1, false, `{"k":".."}`},
		"dot/.":   {2, true, ``},
		"dot/...": {1, false, `{"k":"..."}`},
		"sub/..":  {7, false, `{"from":"source"}`},
	}
	if len(got) != len(want) {
		t.Fatalf("the partner holds %v, want exactly %v", keysOf(got), want)
	}
	for k, w := range want {
		r, ok := got[k]
		if !ok || r.Version != w.version || r.Deleted != w.deleted || string(r.Data) != w.data {
			t.Fatalf("%s at the partner: %+v (found %v), want version %d deleted %v data %s", k, r, ok, w.version, w.deleted, w.data)
		}
	}
	allowed := []string{"POST /oauth/token", "PUT /v1/dot/%2E%2E", "PUT /v1/dot/%2E", "PUT /v1/dot/%2E%2E%2E",
		"DELETE /v1/dot/%2E?version=2", "PUT /v1/sub/%2E%2E"}
	for _, target := range front.seen() {
		if !slices.Contains(allowed, target) {
			t.Fatalf("the partner was sent %q; every request: %v", target, front.seen())
		}
	}
	for _, e := range h.sim.Log(0, 0) {
		if e.Status/100 == 3 || !strings.Contains(e.Key, ".") {
			t.Fatalf("partnersim logged %+v", e)
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
