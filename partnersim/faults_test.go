package partnersim

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"
)

func (s *sim) setFaults(body string) (int, map[string]any) {
	s.tb.Helper()
	st, b := s.do(http.MethodPost, "/_sim/faults", "application/json", body, nil)
	return st, decode(s.tb, b)
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults string
		key    string
		status int
		check  func(t *testing.T, resp *http.Response, body map[string]any)
	}{
		{"error rate", `{"error_rate":1}`, "k", http.StatusServiceUnavailable, nil},
		{"429 with Retry-After", `{"rate_429":1,"retry_after":"1500ms"}`, "k", http.StatusTooManyRequests, func(t *testing.T, resp *http.Response, _ map[string]any) {
			if ra := resp.Header.Get("Retry-After"); ra != "2" {
				t.Fatalf("Retry-After %q, want 2 (whole seconds, rounded up)", ra)
			}
		}},
		{"outage", `{"outage":true}`, "k", http.StatusServiceUnavailable, nil},
		{"reject prefix hit", `{"reject_prefix":"bad-"}`, "bad-1", http.StatusUnprocessableEntity, func(t *testing.T, _ *http.Response, body map[string]any) {
			if body["error"] != "rejected" {
				t.Fatalf("body %v", body)
			}
		}},
		{"reject prefix miss", `{"reject_prefix":"bad-"}`, "good-1", http.StatusCreated, nil},
		{"none", `{}`, "k", http.StatusCreated, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, nil)
			if st, b := s.setFaults(tt.faults); st != http.StatusOK {
				t.Fatalf("set faults: %d %v", st, b)
			}
			resp := s.doResp(http.MethodPut, "/v1/x/"+tt.key, "application/json", rec("a", 1, `{}`), map[string]string{IdempotencyHeader: "e1"})
			defer resp.Body.Close()
			body := decodeBody(t, resp)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tt.status, body)
			}
			if tt.check != nil {
				tt.check(t, resp, body)
			}
			if tt.status >= 300 && len(s.srv.Snapshot("").Records) != 0 {
				t.Fatal("a refused write changed the records")
			}
		})
	}
}

func TestOutageFailsTokenEndpoint(t *testing.T) {
	s := start(t, nil)
	s.setFaults(`{"outage":true}`)
	st, _ := s.do(http.MethodPost, "/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=id&client_secret=s3cret", nil)
	if st != http.StatusServiceUnavailable {
		t.Fatalf("token during outage: %d", st)
	}
	s.setFaults(`{"outage":false}`)
	if tok := s.fetchToken(); tok == "" {
		t.Fatal("no token after the outage")
	}
}

func TestLatencyIsApplied(t *testing.T) {
	s := start(t, func(o *Options) { o.Now = time.Now })
	s.token = s.fetchToken()
	s.setFaults(`{"latency":"30ms","jitter":"5ms"}`)
	s.put("x", "k", rec("a", 1, `{}`), "")
	log := s.srv.Log(0, 0)
	if len(log) != 1 || log[0].DoneUS-log[0].AtUS < 30000 {
		t.Fatalf("log %+v: want one entry that took at least 30ms", log)
	}
}

func TestSetFaultsMergesAndValidates(t *testing.T) {
	s := start(t, nil)
	s.setFaults(`{"latency":"5ms","error_rate":0.25}`)
	s.setFaults(`{"rate_429":0.5}`)
	st, b := s.do(http.MethodGet, "/_sim/faults", "", "", nil)
	var f Faults
	if err := json.Unmarshal(b, &f); err != nil || st != http.StatusOK {
		t.Fatalf("%d %s", st, b)
	}
	if f.Latency != Duration(5*time.Millisecond) || f.ErrorRate != 0.25 || f.Rate429 != 0.5 {
		t.Fatalf("faults %+v: later changes must keep earlier fields", f)
	}
	for _, bad := range []string{`{"error_rate":2}`, `{"latency":5}`, `{"latencyy":"5ms"}`, `{"rate_429":-1}`, `nope`} {
		if st, _ := s.setFaults(bad); st != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, st)
		}
	}
	if _, err := New(Options{Faults: Faults{ErrorRate: 3}}); err == nil {
		t.Error("New accepted error_rate 3")
	}
}

// The error rate is a share: with a fixed seed roughly that share fails.
func TestErrorRateShare(t *testing.T) {
	s := start(t, func(o *Options) { o.Faults.ErrorRate = 0.3; o.Seed = 7 })
	failed := 0
	for i := range 400 {
		if st, _ := s.put("x", "k", rec("a", int64(i+1), `{}`), ""); st == http.StatusServiceUnavailable {
			failed++
		}
	}
	if failed < 80 || failed > 160 {
		t.Fatalf("%d of 400 failed, want about 120", failed)
	}
}

func TestOverlapsPerAccount(t *testing.T) {
	s := start(t, func(o *Options) { o.Now = time.Now })
	s.token = s.fetchToken()
	s.setFaults(`{"latency":"400ms"}`)
	var wg sync.WaitGroup
	put := func(account, key string) {
		defer wg.Done()
		s.put("x", key, rec(account, 1, `{}`), "")
	}
	wg.Add(1)
	go put("a", "k1")
	waitInFlight(t, s.srv, 1)
	wg.Add(2)
	go put("a", "k2") // overlaps k1: same account
	go put("b", "k3") // other account: no overlap
	wg.Wait()
	st := s.srv.Snapshot("").Stats
	if st.Overlaps != 1 || st.OverlapsByAccount["a"] != 1 || st.OverlapsByAccount["b"] != 0 {
		t.Fatalf("overlaps %d by account %v; want 1, all of account a", st.Overlaps, st.OverlapsByAccount)
	}
	// Serial requests of one account never count.
	s.setFaults(`{"latency":"0s"}`)
	for i := range 5 {
		s.put("x", "serial", rec("c", int64(i+1), `{}`), "")
	}
	if n := s.srv.Snapshot("").Stats.OverlapsByAccount["c"]; n != 0 {
		t.Fatalf("serial requests counted as %d overlaps", n)
	}
}

func waitInFlight(tb testing.TB, srv *Server, n int) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Snapshot("").Stats.InFlight != n {
		if time.Now().After(deadline) {
			tb.Fatalf("in flight never reached %d", n)
		}
		time.Sleep(time.Millisecond)
	}
}
