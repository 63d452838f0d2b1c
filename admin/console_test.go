package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

type counters struct {
	mu              sync.Mutex
	delivered, dead int64
	invalid         int64
}

func (c *counters) Status(context.Context) (inspect.Status, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return inspect.Status{Steps: map[string]int64{"delivered": c.delivered, "dead": c.dead, "invalid": c.invalid}}, nil
}

type fakeTimeline struct{ got attemptlog.TimelineQuery }

func (f *fakeTimeline) Timeline(_ context.Context, q attemptlog.TimelineQuery) ([]attemptlog.Chain, bool, error) {
	f.got = q
	if q.EventID == "" && q.Account == "" && q.Key == "" {
		return nil, false, attemptlog.ErrNoQuery
	}
	return []attemptlog.Chain{{ChainID: "c1", LastStep: "dead", Steps: []attemptlog.Step{{Step: "dead", HTTPStatus: 422, LatencyUS: 900}}}}, false, nil
}

func TestConsoleSeries(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	st := &counters{}
	c, err := NewConsole(ConsoleConfig{SampleEvery: 5 * time.Second, Window: time.Minute, Now: clock}, st, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	step := func(delivered, dead, invalid int64) {
		st.mu.Lock()
		st.delivered, st.dead, st.invalid = delivered, dead, invalid
		st.mu.Unlock()
		if err := c.Sample(context.Background()); err != nil {
			t.Fatal(err)
		}
		now = now.Add(5 * time.Second)
	}
	step(100, 0, 0)
	step(150, 1, 1) // 50 delivered, 2 dead letters in 5 s
	step(150, 1, 1)
	step(10, 1, 1) // counters reset: no negative rate
	s := c.Series()
	if len(s.Points) != 3 {
		t.Fatalf("%d points", len(s.Points))
	}
	if p := s.Points[0]; p.Delivered != 10 || p.Dead != 0.4 || p.T != time.Unix(1_700_000_005, 0).UnixMilli() {
		t.Fatalf("first point %+v, want 10/s delivered, 0.4/s dead", p)
	}
	if s.Points[1].Delivered != 0 || s.Points[2].Delivered != 0 {
		t.Fatalf("points %+v", s.Points)
	}
	for range 20 { // a minute and more later only the window is kept
		step(10, 1, 1)
	}
	if n := len(c.Series().Points); n > 13 {
		t.Fatalf("%d points kept for a one-minute window of 5 s steps", n)
	}
	if _, err := NewConsole(ConsoleConfig{SampleEvery: time.Minute, Window: time.Minute}, st, nil, nil); err == nil {
		t.Fatal("a window of one sample accepted")
	}
}

func TestConsoleEndpoints(t *testing.T) {
	tl := &fakeTimeline{}
	lag := func(context.Context) (ExportLag, error) { return ExportLag{BacklogRows: 7, Seconds: 1.5}, nil }
	c, err := NewConsole(ConsoleConfig{}, &counters{}, tl, lag)
	if err != nil {
		t.Fatal(err)
	}
	ops := &fakeOps{}
	srv := httptest.NewServer(c.Wrap(NewAPI(ops, nil, nil)))
	defer srv.Close()
	off, _ := NewConsole(ConsoleConfig{}, &counters{}, nil, nil)
	offSrv := httptest.NewServer(off.Wrap(NewAPI(ops, nil, nil)))
	defer offSrv.Close()
	tests := []struct {
		name, base, path string
		status           int
		contains         string
	}{
		{"series with export lag", srv.URL, "/api/v1/series", 200, `"export":{"backlog_rows":7,"seconds":1.5}`},
		{"series without the attempt log", offSrv.URL, "/api/v1/series", 200, `"export":null`},
		{"chain by event", srv.URL, "/api/v1/chain?event_id=e1", 200, `"latency_us":900`},
		{"chain by record", srv.URL, "/api/v1/chain?record=sub/k%2F1", 200, `"chain_id":"c1"`},
		{"chain by bad record", srv.URL, "/api/v1/chain?record=sub", 400, "entity/key"},
		{"chain naming nothing", srv.URL, "/api/v1/chain", 400, "name an event id"},
		{"chain bad limit", srv.URL, "/api/v1/chain?account=a&limit=0", 400, "limit"},
		{"chain with the attempt log off", offSrv.URL, "/api/v1/chain?event_id=e1", 503, "attempt log is off"},
		{"the rest reaches the API", srv.URL, "/api/v1/status", 200, `"stream_length":3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(tt.base + tt.path)
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
	resp, _ := http.Get(srv.URL + "/api/v1/chain?record=sub/k%2F1&since=2h&limit=5")
	var body struct{ Chains []attemptlog.Chain }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if tl.got.Entity != "sub" || tl.got.Key != "k/1" || tl.got.Limit != 5 || time.Since(tl.got.Since) < 119*time.Minute || len(body.Chains) != 1 {
		t.Fatalf("query %+v, answer %+v", tl.got, body)
	}
}

func TestDeadCursor(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	tests := []struct {
		cursor, since, want string
		err                 bool
	}{
		{"", "", "", false},
		{"5-0", "1h", "5-0", false},
		{"", "1h", "1699996399999-18446744073709551615", false},
		{"", "soon", "", true},
	}
	for _, tt := range tests {
		got, err := deadCursor(tt.cursor, tt.since, now)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("deadCursor(%q, %q) = %q, %v; want %q", tt.cursor, tt.since, got, err, tt.want)
		}
	}
}
