package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
)

var testProducers = []Producer{{Name: "crm", Token: "s3cret-crm"}, {Name: "billing", Token: "an0ther-billing"}}

// postAs posts body with an Authorization header (none when auth is empty)
// and returns the status, the answer and its headers.
func postAs(t *testing.T, url, auth, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, resp.Header
}

// startWith starts an ingest with prepared events on keys and the given
// producers; the check-back asks checkURL.
func startWith(t *testing.T, keys layout.Keys, clock *atomic.Int64, ps []Producer, checkURL string) (*Server, string) {
	t.Helper()
	s, err := New(Config{Addr: "127.0.0.1:0", Stream: keys.Events, Keys: keys, Limits: event.Limits{MaxBytes: 4096},
		Now: func() time.Time { return time.UnixMilli(clock.Load()) }, CheckURL: checkURL, CheckEvery: time.Hour,
		Producers: ps, Instance: "test", AttemptLog: true}, testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s, "http://" + s.Addr() + "/v1/events"
}

// Every ingest request needs a producer's token: without one, or with a
// wrong one, it is answered 401 and nothing is appended or released.
func TestProducerTokens(t *testing.T) {
	var clock atomic.Int64
	clock.Store(t0)
	keys := preparedKeys(t)
	_, base := startWith(t, keys, &clock, testProducers, "")
	rdb := testenv.Redis(t)
	ctx := context.Background()

	for _, path := range []string{"", "?prepare=1", "/confirm", "/cancel"} {
		body := pev("t1")
		if strings.HasPrefix(path, "/") {
			body = `{"ids":["t1"]}`
		}
		for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer s3cret", "Bearer s3cret-crmx", "Basic czNjcmV0LWNybQ==",
			"Bearer an0ther-billing s3cret-crm", "s3cret-crm"} {
			st, ans, h := postAs(t, base+path, auth, body)
			if st != http.StatusUnauthorized || ans["error"] != "unauthorized" || h.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("POST %s with %q: %d %v %q, want 401 unauthorized with WWW-Authenticate: Bearer", path, auth, st, ans, h.Get("WWW-Authenticate"))
			}
		}
	}
	if n, _ := rdb.XLen(ctx, keys.Events).Result(); n != 0 {
		t.Fatalf("refused requests appended %d entries", n)
	}
	if n, _ := rdb.HLen(ctx, keys.Prepared).Result(); n != 0 {
		t.Fatalf("refused requests prepared %d events", n)
	}

	for _, auth := range []string{"Bearer s3cret-crm", "bearer s3cret-crm", "BEARER  s3cret-crm "} {
		if st, ans, _ := postAs(t, base, auth, pev("ok-"+strings.ReplaceAll(auth, " ", "_"))); st != http.StatusAccepted || ans["accepted"] != float64(1) {
			t.Fatalf("with %q: %d %v, want 202", auth, st, ans)
		}
	}
	if st, _, _ := postAs(t, base, "Bearer an0ther-billing", pev("ok-billing")); st != http.StatusAccepted {
		t.Fatalf("billing's token: %d", st)
	}
	xs, _ := rdb.XRange(ctx, keys.Events, "-", "+").Result()
	if len(xs) != 4 || xs[0].Values[ProducerField] != "crm" || xs[3].Values[ProducerField] != "billing" {
		t.Fatalf("entries %v: want 4, each naming its producer in %s", xs, ProducerField)
	}
}

// Producers' names and tokens are checked when the server is built.
func TestProducersChecked(t *testing.T) {
	for _, ps := range [][]Producer{{{Name: "crm"}}, {{Token: "x"}}, {{Name: "a", Token: "x"}, {Name: "a", Token: "y"}}} {
		if _, err := New(Config{Addr: "127.0.0.1:0", Stream: "x", Producers: ps}, nil); err == nil {
			t.Errorf("%v: want an error", ps)
		}
	}
}

// Without tokens the ingest serves on loopback only; with them anywhere.
func TestOpenIngestOnLoopbackOnly(t *testing.T) {
	for _, tt := range []struct {
		addr string
		ps   []Producer
		ok   bool
	}{
		{"127.0.0.1:0", nil, true},
		{"0.0.0.0:0", nil, false},
		{":0", nil, false},
		{"0.0.0.0:0", testProducers, true},
	} {
		s, err := New(Config{Addr: tt.addr, Stream: "x", Producers: tt.ps}, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Start()
		_ = s.Close(context.Background())
		if tt.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "ingest.tokens")) {
			t.Errorf("%s with %d producers: %v", tt.addr, len(tt.ps), err)
		}
	}
}

// A producer confirms and cancels only the events it prepared: another's
// ids are unknown to it and stay prepared; the same id prepared by two
// producers is two events; events prepared without a producer (before
// tokens were set) are no producer's.
func TestPreparedEventsBelongToTheirProducer(t *testing.T) {
	var asked sync.Map // event id → the check-back's query
	cs := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Store(r.URL.Query().Get("id")+"/"+r.URL.Query().Get("producer"), true)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "unknown"})
	})
	check := startHTTP(t, cs)
	var clock atomic.Int64
	clock.Store(t0)
	keys := preparedKeys(t)
	srv, base := startWith(t, keys, &clock, testProducers, check)
	ctx := context.Background()
	rdb := testenv.Redis(t)
	crm, billing := "Bearer s3cret-crm", "Bearer an0ther-billing"
	ids := func() string { // the events stream's ids and producers
		xs, _ := rdb.XRange(ctx, keys.Events, "-", "+").Result()
		var out []string
		for _, x := range xs {
			out = append(out, fmt.Sprint(x.Values["id"], "/", x.Values[ProducerField]))
		}
		return fmt.Sprint(out)
	}

	if st, ans, _ := postAs(t, base+"?prepare=1", crm, "["+pev("p1")+","+pev("p2")+","+pev("shared")+"]"); st != 202 || ans["prepared"] != float64(3) {
		t.Fatalf("crm prepares: %d %v", st, ans)
	}
	if st, ans, _ := postAs(t, base+"?prepare=1", billing, pev("shared")); st != 202 {
		t.Fatalf("billing prepares: %d %v", st, ans)
	}
	// An event prepared before the ingest had tokens: no producer's.
	legacy, _ := Parse([]json.RawMessage{json.RawMessage(pev("legacy"))}, event.Limits{}, time.UnixMilli(t0))
	if err := srv.prepared.Prepare(ctx, legacy, "", time.UnixMilli(t0)); err != nil {
		t.Fatal(err)
	}

	st, ans, _ := postAs(t, base+"/confirm", billing, `{"ids":["p1","legacy"]}`)
	if st != 200 || ans["confirmed"] != float64(0) || fmt.Sprint(ans["unknown"]) != "[p1 legacy]" {
		t.Fatalf("billing confirms crm's p1 and the legacy event: %d %v", st, ans)
	}
	st, ans, _ = postAs(t, base+"/cancel", billing, `{"ids":["p2"]}`)
	if st != 200 || ans["cancelled"] != float64(0) || fmt.Sprint(ans["unknown"]) != "[p2]" {
		t.Fatalf("billing cancels crm's p2: %d %v", st, ans)
	}
	if got := ids(); got != "[]" {
		t.Fatalf("another producer's confirm appended %s", got)
	}
	if n, _ := rdb.HLen(ctx, keys.Prepared).Result(); n != 5 {
		t.Fatalf("%d prepared events left, want all 5", n)
	}
	st, ans, _ = postAs(t, base+"/cancel", crm, `{"ids":["shared","p2"]}`)
	if st != 200 || ans["cancelled"] != float64(2) {
		t.Fatalf("crm cancels its shared and p2: %d %v", st, ans)
	}
	st, ans, _ = postAs(t, base+"/confirm", crm, `{"ids":["p1","shared"]}`)
	if st != 200 || ans["confirmed"] != float64(1) || fmt.Sprint(ans["unknown"]) != "[shared]" {
		t.Fatalf("crm confirms p1: %d %v", st, ans)
	}
	st, ans, _ = postAs(t, base+"/confirm", billing, `{"ids":["shared"]}`)
	if st != 200 || ans["confirmed"] != float64(1) {
		t.Fatalf("billing confirms its own shared: %d %v", st, ans)
	}
	if got := ids(); got != "[p1/crm shared/billing]" {
		t.Fatalf("events stream %s", got)
	}

	// The check-back names the producer; the legacy event is asked about
	// without one.
	clock.Store(t0 + 30_000)
	if n, err := srv.checker.checkDue(ctx); err != nil || n != 1 {
		t.Fatalf("check-back: %d %v", n, err)
	}
	if _, ok := asked.Load("legacy/"); !ok {
		t.Fatal("the legacy event was not checked back without a producer")
	}
	if st, ans, _ := postAs(t, base+"?prepare=1", crm, pev("late")); st != 202 {
		t.Fatalf("%d %v", st, ans)
	}
	clock.Store(t0 + 70_000)
	if _, err := srv.checker.checkDue(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := asked.Load("late/crm"); !ok {
		t.Fatal("crm's event was not checked back with producer=crm")
	}
}

// The attempt-log rows of one event id prepared by two producers are rows
// of their own (their row_id names the producer), so that neither collapses
// into the other in ClickHouse; rows of events prepared without a producer
// keep the row_id they always had.
func TestPreparedRowsOfTwoProducersApart(t *testing.T) {
	var clock atomic.Int64
	clock.Store(t0)
	keys := preparedKeys(t)
	srv, base := startWith(t, keys, &clock, testProducers, "")
	ctx := context.Background()
	crm, billing := "Bearer s3cret-crm", "Bearer an0ther-billing"
	for _, auth := range []string{crm, billing} {
		if st, ans, _ := postAs(t, base+"?prepare=1", auth, "["+pev("pp-1")+","+pev("pp-2")+"]"); st != 202 {
			t.Fatalf("prepare: %d %v", st, ans)
		}
	}
	if st, ans, _ := postAs(t, base+"/cancel", crm, `{"ids":["pp-1"]}`); st != 200 || ans["cancelled"] != float64(1) {
		t.Fatalf("crm cancels pp-1: %d %v", st, ans)
	}
	if ok, err := srv.prepared.Release(ctx, PreparedField("billing", "pp-1"), ActionDead, "never confirmed", time.UnixMilli(t0)); !ok || err != nil {
		t.Fatalf("billing's pp-1 dead-lettered: %v %v", ok, err)
	}
	for _, auth := range []string{crm, billing} {
		if st, ans, _ := postAs(t, base+"/confirm", auth, `{"ids":["pp-2"]}`); st != 200 || ans["confirmed"] != float64(1) {
			t.Fatalf("confirm pp-2: %d %v", st, ans)
		}
	}
	legacy, _ := Parse([]json.RawMessage{json.RawMessage(pev("pp-1"))}, event.Limits{}, time.UnixMilli(t0))
	if err := srv.prepared.Prepare(ctx, legacy, "", time.UnixMilli(t0)); err != nil {
		t.Fatal(err)
	}
	if ok, err := srv.prepared.Release(ctx, "pp-1", ActionCancel, "", time.UnixMilli(t0)); !ok || err != nil {
		t.Fatalf("the legacy pp-1 cancelled: %v %v", ok, err)
	}

	rows, err := testenv.Redis(t).XRange(ctx, keys.Attempts, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var got []string
	for _, r := range rows {
		id := fmt.Sprint(r.Values["row_id"])
		if seen[id] {
			t.Errorf("row_id %s written twice: one producer's step would hide another's", id)
		}
		seen[id] = true
		if fmt.Sprint(r.Values["event_id"]) == "pp-1" {
			got = append(got, id+" "+fmt.Sprint(r.Values["stream_id"]))
		}
	}
	want := []string{
		"prepared@crm:pp-1:prepared:0 prepared@crm:pp-1",
		"prepared@billing:pp-1:prepared:0 prepared@billing:pp-1",
		"prepared@crm:pp-1:cancelled:0 prepared@crm:pp-1",
		"prepared@billing:pp-1:dead:0 prepared@billing:pp-1",
		"prepared:pp-1:prepared:0 prepared:pp-1", // no producer's: as before
		"prepared:pp-1:cancelled:0 prepared:pp-1",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pp-1's rows (row_id stream_id):\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(rows) != 10 {
		t.Fatalf("%d rows, want 10", len(rows))
	}
}

// An open ingest on the same Redis cannot reach a producer's prepared
// events by naming the field they are kept under.
func TestOpenIngestCannotReachProducersEvents(t *testing.T) {
	var clock atomic.Int64
	clock.Store(t0)
	keys := preparedKeys(t)
	_, withTokens := startWith(t, keys, &clock, testProducers, "")
	_, open := startWith(t, keys, &clock, nil, "")
	if st, _, _ := postAs(t, withTokens+"?prepare=1", "Bearer s3cret-crm", pev("x")); st != 202 {
		t.Fatalf("prepare: %d", st)
	}
	b, _ := json.Marshal(map[string][]string{"ids": {PreparedField("crm", "x"), "x"}})
	st, ans, _ := postAs(t, open+"/confirm", "", string(b))
	if st != 200 || ans["confirmed"] != float64(0) {
		t.Fatalf("confirm through the open ingest: %d %v", st, ans)
	}
	if n, _ := testenv.Redis(t).HLen(context.Background(), keys.Prepared).Result(); n != 1 {
		t.Fatalf("%d prepared, want crm's x still there", n)
	}
}

// startHTTP serves h on loopback and returns its URL.
func startHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	s := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return (&url.URL{Scheme: "http", Host: ln.Addr().String(), Path: "/check"}).String()
}
