package admin

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

type fakeOps struct{ replayed []string }

func (f *fakeOps) Status(context.Context) (inspect.Status, error) {
	return inspect.Status{StreamLength: 3, Dead: 1}, nil
}

func (f *fakeOps) ListDead(_ context.Context, flt inspect.DeadFilter, _ string, limit int) ([]inspect.DeadLetter, string, error) {
	if flt.Reason == "rejected" {
		return []inspect.DeadLetter{{EventID: "e1", Reason: "rejected"}}, "", nil
	}
	return nil, "", nil
}

func (f *fakeOps) ReplayDead(_ context.Context, flt inspect.DeadFilter) ([]string, error) {
	if flt.Empty() {
		return nil, inspect.ErrNoFilter
	}
	f.replayed = append(f.replayed, flt.IDs...)
	return flt.IDs, nil
}

func (f *fakeOps) DropDead(ctx context.Context, flt inspect.DeadFilter) ([]string, error) {
	return f.ReplayDead(ctx, flt)
}

type fakeChains struct{ got attemptlog.ChainFilter }

func (f *fakeChains) Chains(_ context.Context, flt attemptlog.ChainFilter) ([]attemptlog.Chain, bool, error) {
	f.got = flt
	return []attemptlog.Chain{{ChainID: "c1", LastStep: "dead"}}, flt.Limit == 1, nil
}

func TestAPI(t *testing.T) {
	ops, ch := &fakeOps{}, &fakeChains{}
	srv := httptest.NewServer(NewAPI(ops, ch, nil))
	defer srv.Close()
	off := httptest.NewServer(NewAPI(ops, nil, nil))
	defer off.Close()
	tests := []struct {
		name, base, method, path, body string
		status                         int
		contains                       string
	}{
		{"status", srv.URL, "GET", "/api/v1/status", "", 200, `"stream_length":3`},
		{"dead by reason", srv.URL, "GET", "/api/v1/dead?reason=rejected", "", 200, `"id":"e1"`},
		{"dead none", srv.URL, "GET", "/api/v1/dead?reason=invalid", "", 200, `"items":[]`},
		{"dead bad limit", srv.URL, "GET", "/api/v1/dead?limit=0", "", 400, "limit"},
		{"replay ids", srv.URL, "POST", "/api/v1/dead/replay", `{"ids":["e1","e2"]}`, 200, `"count":2`},
		{"replay nothing named", srv.URL, "POST", "/api/v1/dead/replay", `{}`, 400, "name dead letters"},
		{"drop unknown field", srv.URL, "POST", "/api/v1/dead/drop", `{"idz":["x"]}`, 400, "unknown field"},
		{"chains", srv.URL, "GET", "/api/v1/chains?account=a&since=2h&stuck=1m", "", 200, `"chain_id":"c1"`},
		{"chains bad since", srv.URL, "GET", "/api/v1/chains?since=yesterday", "", 400, "since"},
		{"chains with the attempt log off", off.URL, "GET", "/api/v1/chains", "", 503, "attempt log is off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, tt.base+tt.path, strings.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.contains) {
				t.Fatalf("%d %s, want %d containing %s", resp.StatusCode, b, tt.status, tt.contains)
			}
		})
	}
	if ch.got.Account != "a" || ch.got.Stuck != time.Minute || time.Since(ch.got.Since) < 119*time.Minute {
		t.Fatalf("chain filter %+v", ch.got)
	}
	if strings.Join(ops.replayed, ",") != "e1,e2" {
		t.Fatalf("replayed %v", ops.replayed)
	}
}

// partner= reaches the chains, timeline and dead-letter readers; a name
// that is no partner name is 400; a status per partner needs an Operations
// that counts one; the partners are the configured ones.
func TestAPIPartner(t *testing.T) {
	api, tl := &partnerAPI{}, &fakeTimeline{}
	c, err := NewConsole(ConsoleConfig{}, &counters{}, tl, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Addr: "127.0.0.1:0", Partners: []string{"crm", "erp"}}, func(context.Context) error { return nil }, nil,
		c.Wrap(NewAPI(api, api, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	base := "http://" + s.Addr()
	if code, body := call(t, "GET", base+"/api/v1/partners", "", ""); code != 200 || body != `{"partners":["crm","erp"]}`+"\n" {
		t.Fatalf("partners: %d %s", code, body)
	}
	for _, tt := range []struct{ path, endpoint string }{{"/api/v1/chains?partner=erp", "chains"}, {"/api/v1/dead?partner=erp", "dead"},
		{"/api/v1/status?partner=erp", "status"}} {
		if code, body := call(t, "GET", base+tt.path, "", ""); code != 200 {
			t.Fatalf("%s: %d %s", tt.path, code, body)
		}
		if got := api.asked(tt.endpoint); len(got) != 1 || got[0] != "erp" {
			t.Fatalf("%s asked for %v", tt.path, got)
		}
	}
	if code, body := call(t, "GET", base+"/api/v1/chain?event_id=e1&partner=erp", "", ""); code != 200 || tl.got.Partner != "erp" {
		t.Fatalf("chain: %d %s, asked for %q", code, body, tl.got.Partner)
	}
	if code, body := call(t, "POST", base+"/api/v1/dead/replay", "", `{"ids":["e1"],"partner":"erp"}`, jsonCT); code != 200 {
		t.Fatalf("replay: %d %s", code, body)
	}
	for _, path := range []string{"/api/v1/chains?partner=ERP", "/api/v1/dead?partner=a%20b", "/api/v1/chain?event_id=e1&partner=x'y", "/api/v1/status?partner=-!"} {
		if code, _ := call(t, "GET", base+path, "", ""); code != 400 {
			t.Errorf("%s: %d, want 400", path, code)
		}
	}
	plain := httptest.NewServer(NewAPI(&fakeOps{}, nil, nil))
	defer plain.Close()
	if code, body := call(t, "GET", plain.URL+"/api/v1/status?partner=erp", "", ""); code != 400 || !strings.Contains(body, "per partner") {
		t.Fatalf("status per partner without PartnerStatus: %d %s", code, body)
	}
}
