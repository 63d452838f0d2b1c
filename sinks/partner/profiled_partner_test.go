package partner

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/internal/idmap"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/profile"
)

// crm is an in-test partner unlike the built-in API: it assigns its own
// ids on POST /contacts, updates and deletes by them, finds by external id,
// answers its errors inside 200s ({"code": …}), takes batches of deals, and
// checks an HMAC-SHA256 signature over the exact bytes it receives.
type crm struct {
	mu       sync.Mutex
	next     int
	contacts map[string]map[string]any // partner id → record
	deals    map[string]map[string]any // key → record
	reqs     []string                  // "METHOD path" of each request
	bodies   [][]byte
	idemKeys []string

	// faults
	hijackCreate int           // this many creates are made, then their connection closed unanswered
	rateLimited  int           // this many calls answer 200 {"code":42900} with X-RateLimit-Reset: 7
	code         int           // every call answers 200 {"code": code} when not 0
	slowBatch    time.Duration // a batch is applied, then its answer waits this long
	failDeal     string        // the deal key whose batch item fails 422
	createHeld   chan struct{} // when set, a create is told here it arrived, then waits for createGo
	createGo     chan struct{}
	secret       string // HMAC secret; "" checks no signature
}

func newCRM() *crm {
	return &crm{contacts: map[string]map[string]any{}, deals: map[string]map[string]any{}}
}

func (c *crm) requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.reqs...)
}

func (c *crm) contactCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.contacts)
}

func answerJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (c *crm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.reqs = append(c.reqs, r.Method+" "+r.URL.Path)
	c.bodies = append(c.bodies, body)
	c.idemKeys = append(c.idemKeys, r.Header.Get("Idempotency-Key"))
	if c.secret != "" {
		sts := r.Method + "\n" + r.URL.EscapedPath() + "\n" + r.Header.Get("X-Timestamp") + "\n" + string(body)
		m := hmac.New(sha256.New, []byte(c.secret))
		m.Write([]byte(sts))
		if !hmac.Equal([]byte(r.Header.Get("X-Signature")), []byte(hex.EncodeToString(m.Sum(nil)))) {
			c.mu.Unlock()
			answerJSON(w, map[string]any{"code": 40100, "msg": "signature mismatch"})
			return
		}
	}
	if c.rateLimited > 0 {
		c.rateLimited--
		c.mu.Unlock()
		w.Header().Set("X-RateLimit-Reset", "7")
		answerJSON(w, map[string]any{"code": 42900, "msg": "too many requests"})
		return
	}
	if c.code != 0 {
		c.mu.Unlock()
		answerJSON(w, map[string]any{"code": c.code, "msg": "refused"})
		return
	}
	var in map[string]any
	_ = json.Unmarshal(body, &in)
	path := r.URL.Path
	switch {
	case r.Method == http.MethodPost && path == "/contacts":
		if c.createHeld != nil {
			c.mu.Unlock()
			c.createHeld <- struct{}{}
			<-c.createGo
			c.mu.Lock()
		}
		c.next++
		id := fmt.Sprintf("p-%d", c.next)
		c.contacts[id] = in
		if c.hijackCreate > 0 {
			c.hijackCreate--
			c.mu.Unlock()
			conn, _, _ := w.(http.Hijacker).Hijack()
			_ = conn.Close() // created, and the answer lost
			return
		}
		c.mu.Unlock()
		answerJSON(w, map[string]any{"code": 0, "data": map[string]any{"id": id}})
	case r.Method == http.MethodGet && path == "/contacts":
		var found []any
		for id, rec := range c.contacts {
			if rec["external_id"] == r.URL.Query().Get("external_id") {
				found = append(found, map[string]any{"id": id})
			}
		}
		c.mu.Unlock()
		answerJSON(w, map[string]any{"code": 0, "results": found})
	case strings.HasPrefix(path, "/contacts/"):
		id := strings.TrimPrefix(path, "/contacts/")
		_, ok := c.contacts[id]
		switch {
		case !ok:
			c.mu.Unlock()
			answerJSON(w, map[string]any{"code": 40400, "msg": "no such contact"})
			return
		case r.Method == http.MethodDelete:
			delete(c.contacts, id)
		default:
			for k, v := range in {
				c.contacts[id][k] = v
			}
		}
		c.mu.Unlock()
		answerJSON(w, map[string]any{"code": 0})
	case r.Method == http.MethodPut && strings.HasPrefix(path, "/deals/"):
		c.deals[strings.TrimPrefix(path, "/deals/")] = in
		c.mu.Unlock()
		answerJSON(w, map[string]any{"code": 0})
	case r.Method == http.MethodPost && path == "/batch/deals":
		var items []map[string]any
		_ = json.Unmarshal(body, &items)
		var results []any
		for _, it := range items {
			key, _ := it["key"].(string)
			if key == c.failDeal {
				results = append(results, map[string]any{"key": key, "ok": false, "status": 422, "error": "amount must be positive"})
				continue
			}
			c.deals[key] = it
			results = append(results, map[string]any{"key": key, "ok": true})
		}
		c.mu.Unlock()
		answerJSON(w, map[string]any{"code": 0, "results": results})
	case r.Method == http.MethodPost && path == "/batch/contacts":
		var items []map[string]any
		_ = json.Unmarshal(body, &items)
		var results []any
		for _, it := range items {
			id, _ := it["id"].(string)
			if id == "" { // no dedupe by external id: only a find prevents a duplicate
				c.next++
				id = fmt.Sprintf("p-%d", c.next)
				c.contacts[id] = map[string]any{}
			}
			for k, v := range it {
				if k != "id" {
					c.contacts[id][k] = v
				}
			}
			results = append(results, map[string]any{"key": it["external_id"], "ok": true, "id": id})
		}
		slow := c.slowBatch
		c.slowBatch = 0
		c.mu.Unlock()
		if slow > 0 {
			select { // applied; the answer comes too late
			case <-time.After(slow):
			case <-r.Context().Done():
			}
		}
		answerJSON(w, map[string]any{"code": 0, "results": results})
	default:
		c.mu.Unlock()
		http.NotFound(w, r)
	}
}

// crmProfile is the profile of crm; auth is spliced in.
const crmProfile = `name: crm
base_url: %s
%s
defaults:
  answers:
    - when: {status: 2xx, body: '.code == 42900'}
      then: transient
      wait: {header: X-RateLimit-Reset}
      detail: .msg
    - when: {status: 2xx, body: '.code == 40100'}
      then: permanent
      detail: .msg
    - when: {status: 2xx, body: '.code == 40400'}
      then: not_found
      detail: .msg
    - when: {status: 2xx, body: '.code != 0'}
      then: permanent
      detail: .msg
  delete:
    method: DELETE
    path: /{entity}/{key}
entities:
  contact:
    create:
      method: POST
      path: /contacts
      body: '{external_id: .key, name: .data.name}'
      id: .data.id
      idempotency_header: Idempotency-Key
    update:
      method: PATCH
      path: /contacts/{partner_id}
      body: '{name: .data.name}'
    delete:
      method: DELETE
      path: /contacts/{partner_id}
    find:
      method: GET
      path: /contacts
      query:
        external_id: "{key}"
      id: .results[0].id
  deal:
    upsert:
      method: PUT
      path: /deals/{key}
      body: '{contact: .parent.partner_id, amount: .data.amount}'
  order:
    upsert:
      method: PUT
      path: /deals/{key}
      body: '{amount: .data.amount}'
  bulkdeal:
    upsert:
      method: PUT
      path: /deals/{key}
      body: '{amount: .data.amount}'
    bulk:
      size: 3
      linger: 500ms
      request:
        method: POST
        path: /batch/deals
        body: '[.[] | {key: .key, amount: (.data.amount | tonumber)}]'
      results: .results
      match: .key
  bulkcontact:
    create:
      method: POST
      path: /contacts
      body: '{external_id: .key, name: .data.name}'
      id: .data.id
    update:
      method: PATCH
      path: /contacts/{partner_id}
      body: '{name: .data.name}'
    delete:
      method: DELETE
      path: /contacts/{partner_id}
    find:
      method: GET
      path: /contacts
      query:
        external_id: "{key}"
      id: .results[0].id
    bulk:
      size: 2
      linger: 2s
      request:
        method: POST
        path: /batch/contacts
        body: '[.[] | {external_id: .key, name: .data.name} + (if .partner_id then {id: .partner_id} else {} end)]'
      results: .results
      match: .key
`

// profiledFixture is a sink speaking crmProfile to a crm over real HTTP,
// with its id map in Redis.
type profiledFixture struct {
	crm   *crm
	sink  *Sink
	ids   *layout.IDMapStore
	keys  layout.Keys
	clock *clock
	url   string
}

func newProfiledFixture(t *testing.T, auth string, mutate func(*crm, *Config)) *profiledFixture {
	t.Helper()
	c := newCRM()
	hs := httptest.NewServer(c)
	t.Cleanup(hs.Close)
	p, err := profile.Parse([]byte(fmt.Sprintf(crmProfile, hs.URL, auth)), "crm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	keys := layout.NewKeys(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry")
	store := layout.NewIDMapStore(rdb, layout.Shards{keys})
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	cfg := Config{Profile: p, IDs: store, Timeout: 2 * time.Second, Now: clk.Now,
		Breaker: BreakerConfig{TripAfter: 5, OpenFor: 30 * time.Millisecond, PollInterval: 5 * time.Millisecond}}
	if mutate != nil {
		mutate(c, &cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &profiledFixture{crm: c, sink: s, ids: store, keys: keys, clock: clk, url: hs.URL}
}

// commit records what a delivered answer asks of the id map, as the
// pipeline's commit does with the delivery.
func (f *profiledFixture) commit(t *testing.T, e event.Event, a delivery.Answer) {
	t.Helper()
	if a.Class != delivery.Delivered {
		return
	}
	switch a.IDMap.Op {
	case idmap.WriteSet:
		if _, _, err := f.ids.Set(context.Background(), e.Entity, e.Key, e.Account, a.IDMap.ID); err != nil {
			t.Fatal(err)
		}
	case idmap.WriteGone:
		if err := testenv.Redis(t).HSet(context.Background(), f.keys.IDMap(e.Entity), e.Key, fmt.Sprintf("g|%d", e.Version)).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

func contact(id, key string, version int64, name string) event.Event {
	return event.Event{ID: id, Account: "acc-" + key, Entity: "contact", Key: key, Op: event.OpUpsert, Version: version,
		Data: json.RawMessage(fmt.Sprintf(`{"name":%q}`, name))}
}
