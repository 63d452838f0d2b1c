package partnersim

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"
)

func (s *sim) bulk(entity, body string) (int, []BulkResult) {
	s.tb.Helper()
	st, b := s.do(http.MethodPost, "/v1/"+entity+"/_bulk", "application/json", body, nil)
	if st != http.StatusOK {
		return st, nil
	}
	var out struct {
		Results []BulkResult `json:"results"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		s.tb.Fatalf("bulk answer %q: %v", b, err)
	}
	return st, out.Results
}

// Each item is applied as its own PUT would be, and answered in order.
func TestBulkAppliesEachItemAsItsPut(t *testing.T) {
	s := start(t, nil)
	if st, _ := s.put("reg", "old", rec("a", 5, `{"n":1}`), ""); st != http.StatusCreated {
		t.Fatalf("seed: %d", st)
	}
	s.setFaults(`{"reject_prefix":"bad-"}`)
	st, res := s.bulk("reg", `{"items":[
		{"key":"new","account":"a","version":1,"data":{"n":1},"idempotency_key":"e1"},
		{"key":"old","account":"b","version":7,"data":{"n":2},"idempotency_key":"e2"},
		{"key":"old","account":"b","version":6,"data":{"n":3},"idempotency_key":"e3"},
		{"key":"kid","account":"c","version":1,"data":{},"parent":{"entity":"reg","key":"nobody"},"idempotency_key":"e4"},
		{"key":"x","account":"d","version":0,"data":{},"idempotency_key":"e5"},
		{"key":"bad-1","account":"e","version":1,"data":{},"idempotency_key":"e6"}]}`)
	if st != http.StatusOK {
		t.Fatalf("status %d", st)
	}
	want := []BulkResult{
		{Key: "new", Status: 201},
		{Key: "old", Status: 200},
		{Key: "old", Status: 409, Error: "stale_version", CurrentVersion: 7},
		{Key: "kid", Status: 409, Error: "parent_missing"},
		{Key: "x", Status: 422, Error: "invalid_record"},
		{Key: "bad-1", Status: 422, Error: "rejected"},
	}
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(res), len(want), res)
	}
	for i, w := range want {
		g := res[i]
		g.Detail = ""
		if g != w {
			t.Errorf("result %d = %+v, want %+v", i, g, w)
		}
	}
	recs := map[string]int64{}
	for _, r := range s.srv.Snapshot("").Records {
		recs[r.Key] = r.Version
	}
	if recs["new"] != 1 || recs["old"] != 7 || len(recs) != 2 {
		t.Fatalf("records %v; want new@1 and old@7", recs)
	}
	// Logged as the PUTs they stand for, with their idempotency keys.
	log := s.srv.Log(0, 0)
	var puts []LogEntry
	for _, e := range log {
		if e.Method == http.MethodPut && e.IdempotencyKey != "" {
			puts = append(puts, e)
		}
	}
	if len(puts) != 6 || puts[0].IdempotencyKey != "e1" || puts[0].Status != 201 || puts[2].Status != 409 || puts[1].Account != "b" {
		t.Fatalf("log %+v", puts)
	}

	// The same batch again: applied items answer from memory, nothing changes.
	_, again := s.bulk("reg", `{"items":[{"key":"new","account":"a","version":1,"data":{"n":1},"idempotency_key":"e1"},
		{"key":"old","account":"b","version":7,"data":{"n":2},"idempotency_key":"e2"}]}`)
	if len(again) != 2 || again[0].Status != 201 || again[1].Status != 200 {
		t.Fatalf("replayed batch: %+v; want the first answers 201, 200", again)
	}
	if n := s.srv.Snapshot("").Stats.IdempotentReplays; n != 2 {
		t.Fatalf("idempotent replays %d, want 2", n)
	}
	// A key reused for another record is refused, as for a PUT.
	_, reuse := s.bulk("reg", `{"items":[{"key":"new","account":"a","version":9,"data":{},"idempotency_key":"e1"}]}`)
	if len(reuse) != 1 || reuse[0].Status != 422 || reuse[0].Error != "idempotency_mismatch" {
		t.Fatalf("reused key: %+v", reuse)
	}
}

func TestBulkRefusesABadRequestWhole(t *testing.T) {
	s := start(t, nil)
	for _, body := range []string{`{"items":[]}`, `not json`, `{"items":{}}`} {
		if st, _ := s.bulk("reg", body); st != http.StatusBadRequest && st != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 400 or 422", body, st)
		}
	}
	s.setFaults(`{"error_rate":1}`)
	if st, _ := s.bulk("reg", `{"items":[{"key":"k","account":"a","version":1,"data":{}}]}`); st != http.StatusServiceUnavailable {
		t.Fatalf("injected error: %d, want 503", st)
	}
	if n := len(s.srv.Snapshot("").Records); n != 0 {
		t.Fatalf("%d records after a refused batch", n)
	}
	s.token = ""
	if st, _ := s.do(http.MethodPost, "/v1/reg/_bulk", "application/json", `{"items":[{"key":"k","account":"a","version":1,"data":{}}]}`, nil); st != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", st)
	}
}

// Every item's account is in flight for the whole request: two items of
// one account in one batch, or a batch and a PUT of one account at once,
// are overlaps; other accounts are not.
func TestBulkOverlapsPerAccount(t *testing.T) {
	s := start(t, func(o *Options) { o.Now = time.Now })
	s.token = s.fetchToken()
	if _, res := s.bulk("x", `{"items":[{"key":"k1","account":"a","version":1,"data":{}},{"key":"k2","account":"a","version":1,"data":{}},{"key":"k3","account":"b","version":1,"data":{}}]}`); len(res) != 3 {
		t.Fatalf("results %+v", res)
	}
	if st := s.srv.Snapshot("").Stats; st.Overlaps != 1 || st.OverlapsByAccount["a"] != 1 {
		t.Fatalf("one batch, two items of a: overlaps %d by account %v; want 1 of a", st.Overlaps, st.OverlapsByAccount)
	}
	s.setFaults(`{"latency":"400ms"}`)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.bulk("x", `{"items":[{"key":"k4","account":"c","version":1,"data":{}},{"key":"k5","account":"d","version":1,"data":{}}]}`)
	}()
	waitInFlight(t, s.srv, 2)
	wg.Add(2)
	go func() { defer wg.Done(); s.put("x", "k6", rec("c", 1, `{}`), "") }() // overlaps the batch: same account
	go func() { defer wg.Done(); s.put("x", "k7", rec("e", 1, `{}`), "") }() // other account
	wg.Wait()
	st := s.srv.Snapshot("").Stats
	if st.Overlaps != 2 || st.OverlapsByAccount["c"] != 1 || st.OverlapsByAccount["d"] != 0 || st.OverlapsByAccount["e"] != 0 {
		t.Fatalf("overlaps %d by account %v; want 2 (a once before, c once now)", st.Overlaps, st.OverlapsByAccount)
	}
}
