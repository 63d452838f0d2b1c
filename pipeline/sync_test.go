package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/source"
)

// testReader reads a source.Source for sync events, as cmd wires it.
type testReader struct{ s source.Source }

func (r testReader) Read(ctx context.Context, entity, key string) (handlers.SourceRecord, bool, error) {
	rec, found, err := r.s.Get(ctx, entity, key)
	if err != nil && source.IsTransient(err) {
		err = fmt.Errorf("%w: %w", handlers.ErrSourceTransient, err)
	}
	return handlers.SourceRecord{Version: rec.Version, Data: rec.Data}, found, err
}

// ourSystem is a second partnersim playing our system: the source of sync
// events, read over HTTP (docs/reconcile.md).
type ourSystem struct {
	t   *testing.T
	sim *partnersim.Server
	url string
}

func newOurSystem(t *testing.T) *ourSystem {
	t.Helper()
	sim, err := partnersim.New(partnersim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &ourSystem{t: t, sim: sim, url: srv.URL}
}

func (o *ourSystem) reader() handlers.RecordReader {
	o.t.Helper()
	s, err := source.New(source.Config{Kind: source.KindHTTP, BaseURL: o.url, Timeout: time.Second})
	if err != nil {
		o.t.Fatal(err)
	}
	return testReader{s}
}

func (o *ourSystem) do(method, entity, key, query, body string) {
	o.t.Helper()
	req, _ := http.NewRequest(method, o.url+"/v1/"+entity+"/"+url.PathEscape(key)+query, strings.NewReader(body))
	req.Header.Set("Idempotency-Key", fmt.Sprintf("%s-%s-%s-%s", method, entity, key, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		o.t.Fatalf("%s %s/%s: %d", method, entity, key, resp.StatusCode)
	}
}

func (o *ourSystem) put(key string, version int64, data string) {
	o.do(http.MethodPut, "sub", key, "", fmt.Sprintf(`{"account":"acc","version":%d,"data":%s}`, version, data))
}

func (o *ourSystem) del(key string, version int64) {
	o.do(http.MethodDelete, "sub", key, "?version="+fmt.Sprint(version), "")
}

// live is the records a partnersim holds (not deleted): "entity/key" → "version data".
func live(sim *partnersim.Server) map[string]string {
	m := map[string]string{}
	for _, r := range sim.Snapshot("").Records {
		if !r.Deleted {
			m[r.Entity+"/"+r.Key] = fmt.Sprintf("%d %s", r.Version, r.Data)
		}
	}
	return m
}

func (h *harness) sync(id, key string) {
	h.xadd("id", id, "account", "acc", "entity", "sub", "key", key, "op", "sync")
}

// Sync events (docs/backfill.md) for created, updated and deleted records, out of
// order and duplicated, leave the partner at the source's state; deliveries
// carry "<id>:<version sent>" and the rows record that version.
func TestSyncEventsConvergeToSource(t *testing.T) {
	ours := newOurSystem(t)
	h := newHarness(t, options{cfg: func(c *Config) { c.Records = ours.reader() }})

	ours.put("updated", 1, `{"n":1}`)
	ours.put("deleted", 2, `{"n":2}`)
	h.sync("first-u", "updated")
	h.sync("first-d", "deleted")
	h.waitTerminal([]string{"first-u", "first-d"}, 15*time.Second)

	ours.put("updated", 3, `{"n":3}`)
	ours.del("deleted", 4)
	ours.put("created", 5, `{"n":5}`)
	var ids []string
	for i := range 8 {
		ids = append(ids, fmt.Sprintf("s%d", i))
	}
	keys := []string{"updated", "deleted", "created", "never", "updated", "created", "deleted", "updated"}
	order := rand.Perm(len(ids))
	for _, i := range order {
		h.sync(ids[i], keys[i])
	}
	h.sync(ids[order[0]], keys[order[0]]) // the same event again
	h.waitTerminal(ids, 15*time.Second)

	want := live(ours.sim)
	got := live(h.sim)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("partner %v, want the source's %v", got, want)
	}
	if len(h.dead()) != 0 {
		t.Fatalf("dead letters: %+v", h.dead())
	}
	// The deleted record was deleted at the ledger's version + 1 and every
	// call's Idempotency-Key is "<id>:<version sent>".
	sawDelete := false
	for _, e := range h.sim.Log(0, 1000) {
		if !strings.Contains(e.IdempotencyKey, ":") || !strings.HasSuffix(e.IdempotencyKey, fmt.Sprintf(":%d", e.Version)) {
			t.Fatalf("Idempotency-Key %q for version %d", e.IdempotencyKey, e.Version)
		}
		if e.Method == http.MethodDelete && e.Key == "deleted" && e.Version == 3 {
			sawDelete = true
		}
	}
	if !sawDelete {
		t.Fatalf("no DELETE of deleted at version 3 (ledger's 2 + 1): %+v", h.sim.Log(0, 1000))
	}
	rows, err := h.rdb.XRange(context.Background(), h.keys.Attempts, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Values["step"] == "delivered" && r.Values["key"] == "created" {
			if r.Values["version"] != "5" || r.Values["op"] != "upsert" {
				t.Fatalf("delivered row of a sync event: %v, want version 5 op upsert", r.Values)
			}
		}
	}
	steps := h.stepsByEvent()
	for _, s := range steps[ids[3]] {
		if s != "skipped_stale" {
			t.Fatalf("sync of a record nobody has: %v, want only skipped_stale", steps[ids[3]])
		}
	}
}

// A source outage during sync deliveries is retried like a partner failure,
// counted apart, and ends with every event delivered, none dead.
func TestSyncSourceOutageRetried(t *testing.T) {
	ours := newOurSystem(t)
	reg := prometheus.NewRegistry()
	h := newHarness(t, options{cfg: func(c *Config) { c.Records = ours.reader(); c.Registerer = reg }})
	var ids []string
	for i := range 5 {
		ours.put(fmt.Sprintf("k%d", i), int64(i+1), `{"ok":true}`)
		ids = append(ids, fmt.Sprintf("o%d", i))
	}
	if err := ours.sim.SetFaults(partnersim.Faults{Outage: true}); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		h.sync(id, fmt.Sprintf("k%d", i))
	}
	testenv.WaitFor(t, 10*time.Second, "a retry of every sync event", func() bool {
		for _, id := range ids {
			if s := h.steps(id); len(s) == 0 || s[0] != "retry_scheduled" {
				return false
			}
		}
		return true
	})
	h.clock.Add(3 * time.Second) // a second failed read each
	testenv.WaitFor(t, 10*time.Second, "second reads", func() bool {
		return testutil.ToFloat64(h.p.metrics.sourceFailures) >= float64(2*len(ids))
	})
	if err := ours.sim.SetFaults(partnersim.Faults{}); err != nil {
		t.Fatal(err)
	}
	by := h.advanceUntilTerminal(ids, time.Second, 20*time.Second)
	for _, id := range ids {
		if s := by[id]; s[len(s)-1] != "delivered" {
			t.Fatalf("%s: %v, want delivered at the end", id, s)
		}
	}
	if len(h.dead()) != 0 {
		t.Fatalf("dead letters: %+v", h.dead())
	}
	if got := len(live(h.sim)); got != len(ids) {
		t.Fatalf("partner has %d records, want %d", got, len(ids))
	}
}

// Without a source a sync event is dead-lettered invalid, with a reason that
// says what to configure.
func TestSyncWithoutSourceInvalid(t *testing.T) {
	h := newHarness(t, options{})
	h.sync("nosrc", "k")
	h.waitSteps("nosrc", "invalid")
	d := h.dead()
	if len(d) != 1 {
		t.Fatalf("dead letters %+v", d)
	}
	b, _ := json.Marshal(d[0])
	if !strings.Contains(string(b), "invalid") || !strings.Contains(string(b), "source.kind") {
		t.Fatalf("dead letter %s: want reason invalid naming source.kind", b)
	}
}
