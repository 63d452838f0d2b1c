package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
)

const t0 = int64(1700000000000)

type preparedEnv struct {
	rdb   *redis.Client
	keys  layout.Keys
	clock *atomic.Int64 // unix ms
	srv   *Server
	url   string
}

func startPrepared(t *testing.T, keys layout.Keys, clock *atomic.Int64, checkURL string) *preparedEnv {
	t.Helper()
	rdb := testenv.Redis(t)
	s, err := New(Config{Addr: "127.0.0.1:0", Stream: keys.Events, Keys: keys, Limits: event.Limits{MaxBytes: 4096},
		Now: func() time.Time { return time.UnixMilli(clock.Load()) }, PrepareTimeout: 30 * time.Second,
		CheckURL: checkURL, CheckMaxAttempts: 3, CheckInitial: time.Second, CheckMax: time.Minute,
		CheckEvery: time.Hour, Instance: "test", AttemptLog: true}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return &preparedEnv{rdb: rdb, keys: keys, clock: clock, srv: s, url: "http://" + s.Addr() + "/v1/events"}
}

func preparedKeys(t *testing.T) layout.Keys {
	p := testenv.Prefix(t)
	k := layout.NewKeys(p+"events", "g", p+"dead", p+"delayed", p+"retry")
	t.Cleanup(func() {
		testenv.Redis(t).Del(context.Background(), k.Events, k.Dead, k.Attempts, k.Steps, k.Prepared, k.PreparedDue, k.PreparedChecks)
	})
	return k
}

func pev(id string) string {
	return fmt.Sprintf(`{"id":%q,"account":"a","entity":"order","key":"k-%s","op":"upsert","version":3,"data":{"x":1}}`, id, id)
}

func (p *preparedEnv) ids(t *testing.T, key string) []string {
	t.Helper()
	xs, err := p.rdb.XRange(context.Background(), key, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprint(x.Values["id"])
	}
	return out
}

func (p *preparedEnv) steps(t *testing.T) []string {
	t.Helper()
	xs, _ := p.rdb.XRange(context.Background(), p.keys.Attempts, "-", "+").Result()
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprint(x.Values["event_id"], ":", x.Values["step"])
	}
	return out
}

func (p *preparedEnv) status(t *testing.T) inspect.Status {
	t.Helper()
	s, err := inspect.ReadStatus(context.Background(), p.rdb, p.keys)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPrepareConfirmCancel(t *testing.T) {
	var clock atomic.Int64
	clock.Store(t0)
	keys := preparedKeys(t)
	p := startPrepared(t, keys, &clock, "")
	if st, body := post(t, p.url+"?prepare=1", "["+pev("p1")+","+pev("p2")+","+pev("p3")+"]"); st != 202 || body["prepared"] != float64(3) {
		t.Fatalf("prepare: %d %v", st, body)
	}
	if got := p.ids(t, keys.Events); len(got) != 0 {
		t.Fatalf("prepared events delivered before confirm: %v", got)
	}
	if s := p.status(t); s.Prepared != 3 {
		t.Fatalf("status prepared %d, want 3", s.Prepared)
	}
	if st, body := post(t, p.url+"?prepare=1", `{"id":"bad","op":"merge"}`); st != 400 || body["errors"] == nil {
		t.Fatalf("an invalid prepared event: %d %v", st, body)
	}

	st, body := post(t, p.url+"/confirm", `{"ids":["p1","nope"]}`)
	if st != 200 || body["confirmed"] != float64(1) || fmt.Sprint(body["unknown"]) != "[nope]" {
		t.Fatalf("confirm: %d %v", st, body)
	}
	xs, _ := p.rdb.XRange(context.Background(), keys.Events, "-", "+").Result()
	if len(xs) != 1 || xs[0].Values["id"] != "p1" || xs[0].Values["data"] != `{"x":1}` || xs[0].Values["ts"] != fmt.Sprint(t0) {
		t.Fatalf("confirmed entry %v", xs)
	}
	if st, body := post(t, p.url+"/confirm", `{"ids":["p1"]}`); st != 200 || body["confirmed"] != float64(0) || fmt.Sprint(body["unknown"]) != "[p1]" {
		t.Fatalf("second confirm: %d %v", st, body)
	}
	if st, body := post(t, p.url+"/cancel", `{"ids":["p2"]}`); st != 200 || body["cancelled"] != float64(1) {
		t.Fatalf("cancel: %d %v", st, body)
	}
	if st, body := post(t, p.url+"/confirm", `{"ids":["p2"]}`); st != 200 || fmt.Sprint(body["unknown"]) != "[p2]" {
		t.Fatalf("confirm after cancel: %d %v", st, body)
	}
	if got := p.ids(t, keys.Events); fmt.Sprint(got) != "[p1]" {
		t.Fatalf("stream %v: a cancelled event was appended", got)
	}
	if st, _ := post(t, p.url+"/confirm", `{"ids":[]}`); st != 400 {
		t.Fatalf("empty ids: %d", st)
	}

	// A crash between prepare and confirm: another process confirms p3.
	_ = p.srv.Close(context.Background())
	p2 := startPrepared(t, keys, &clock, "")
	if st, body := post(t, p2.url+"/confirm", `{"ids":["p3"]}`); st != 200 || body["confirmed"] != float64(1) {
		t.Fatalf("confirm after a restart: %d %v", st, body)
	}
	want := "[p1:prepared p2:prepared p3:prepared p1:confirmed p2:cancelled p3:confirmed]"
	if got := fmt.Sprint(p.steps(t)); got != want {
		t.Fatalf("attempt rows %s, want %s", got, want)
	}
	s := p.status(t)
	if s.Prepared != 0 || s.Steps["prepared"] != 3 || s.Steps["confirmed"] != 2 || s.Steps["cancelled"] != 1 {
		t.Fatalf("status %+v", s)
	}
}

// checkServer answers check-backs from a script per event id; the last
// answer repeats.
type checkServer struct {
	mu      sync.Mutex
	answers map[string][]string
	calls   map[string]int
}

func (c *checkServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := r.URL.Query().Get("id")
	c.calls[id]++
	a := c.answers[id]
	ans := a[min(c.calls[id], len(a))-1]
	if ans == "500" {
		w.WriteHeader(500)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"status": ans})
}

func (c *checkServer) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

func TestCheckBack(t *testing.T) {
	cs := &checkServer{calls: map[string]int{}, answers: map[string][]string{
		"c-commit":   {"commit"},
		"c-rollback": {"rollback"},
		"c-later":    {"unknown", "500", "commit"},
		"c-never":    {"unknown", "500", "unknown"},
	}}
	hs := httptest.NewServer(cs)
	defer hs.Close()
	var clock atomic.Int64
	clock.Store(t0)
	keys := preparedKeys(t)
	p := startPrepared(t, keys, &clock, hs.URL+"/check")
	if st, body := post(t, p.url+"?prepare=1", "["+pev("c-commit")+","+pev("c-rollback")+","+pev("c-later")+","+pev("c-never")+"]"); st != 202 {
		t.Fatalf("prepare: %d %v", st, body)
	}
	ctx := context.Background()
	at := func(ms int64) int {
		t.Helper()
		clock.Store(t0 + ms)
		n, err := p.srv.checker.checkDue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := at(29_999); n != 0 {
		t.Fatalf("%d checked back before prepare_timeout", n)
	}
	if n := at(30_000); n != 4 {
		t.Fatalf("%d checked back at prepare_timeout, want 4", n)
	}
	if got := fmt.Sprint(p.ids(t, keys.Events)); got != "[c-commit]" {
		t.Fatalf("after the first check-back the stream has %s", got)
	}
	// unknown → again after 1s; a failed call (500) → again after 2s more.
	if n := at(30_999); n != 0 {
		t.Fatalf("%d checked back before the backoff", n)
	}
	if n := at(31_000); n != 2 || cs.count("c-later") != 2 {
		t.Fatalf("second round: %d checked, c-later asked %d times", n, cs.count("c-later"))
	}
	if n := at(32_999); n != 0 {
		t.Fatalf("%d checked back before the doubled backoff", n)
	}
	if n := at(33_000); n != 2 {
		t.Fatalf("third round: %d checked", n)
	}
	if got := fmt.Sprint(p.ids(t, keys.Events)); got != "[c-commit c-later]" {
		t.Fatalf("stream %s", got)
	}
	dead, _ := p.rdb.XRange(ctx, keys.Dead, "-", "+").Result()
	if len(dead) != 1 || dead[0].Values["id"] != "c-never" || dead[0].Values["dead_reason"] != "unconfirmed" ||
		!strings.Contains(dead[0].Values["dead_error"].(string), "3 check-backs") || dead[0].Values["data"] != `{"x":1}` {
		t.Fatalf("dead letters %v", dead)
	}
	if cs.count("c-never") != 3 || cs.count("c-commit") != 1 || cs.count("c-rollback") != 1 {
		t.Fatalf("calls %v", cs.calls)
	}
	if n := at(10 * 60_000); n != 0 {
		t.Fatalf("%d still checked back after all settled", n)
	}
	// A confirm after the check-back released or dead-lettered: harmless.
	if st, body := post(t, p.url+"/confirm", `{"ids":["c-later","c-never","c-rollback"]}`); st != 200 || body["confirmed"] != float64(0) {
		t.Fatalf("late confirm: %d %v", st, body)
	}
	if got := fmt.Sprint(p.ids(t, keys.Events)); got != "[c-commit c-later]" {
		t.Fatalf("a late confirm appended: %s", got)
	}
	s := p.status(t)
	if s.Prepared != 0 || s.Steps["confirmed"] != 2 || s.Steps["cancelled"] != 1 || s.Steps["dead"] != 1 {
		t.Fatalf("status %+v", s)
	}
}

// No check URL: a prepared event due for its check-back is dead-lettered
// unconfirmed at once.
func TestCheckBackWithoutURL(t *testing.T) {
	var clock atomic.Int64
	clock.Store(t0)
	keys := preparedKeys(t)
	p := startPrepared(t, keys, &clock, "")
	post(t, p.url+"?prepare=1", pev("u1"))
	clock.Store(t0 + 30_000)
	if n, err := p.srv.checker.checkDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("%d %v", n, err)
	}
	if got := fmt.Sprint(p.ids(t, keys.Dead)); got != "[u1]" {
		t.Fatalf("dead %s", got)
	}
}

// The release script checks before it writes: an unreadable payload (too
// many values to unpack) fails and changes nothing.
func TestReleaseChecksBeforeWriting(t *testing.T) {
	var clock atomic.Int64
	clock.Store(t0)
	keys := preparedKeys(t)
	p := startPrepared(t, keys, &clock, "")
	ctx := context.Background()
	huge := make([]string, 2*5000)
	for i := range huge {
		huge[i] = fmt.Sprint("f", i)
	}
	b, _ := json.Marshal(huge)
	p.rdb.HSet(ctx, keys.Prepared, "huge", b)
	p.rdb.ZAdd(ctx, keys.PreparedDue, redis.Z{Score: float64(t0), Member: "huge"})
	p.rdb.HSet(ctx, keys.Prepared, "garbled", "{not json")
	for _, id := range []string{"huge", "garbled"} {
		if _, err := p.srv.prepared.Release(ctx, id, ActionConfirm, "", time.UnixMilli(t0)); err == nil {
			t.Fatalf("%s: want an error", id)
		}
		if ok, _ := p.rdb.HExists(ctx, keys.Prepared, id).Result(); !ok {
			t.Fatalf("%s: the failed release deleted the event", id)
		}
	}
	// A key of the wrong type (the attempts stream is a string here) fails
	// the release before it writes anything.
	post(t, p.url+"?prepare=1", pev("typed"))
	p.rdb.Set(ctx, keys.Attempts, "not a stream", 0)
	if _, err := p.srv.prepared.Release(ctx, "typed", ActionConfirm, "", time.UnixMilli(t0)); err == nil || !strings.Contains(err.Error(), "not a stream") {
		t.Fatalf("release with a string for the attempts stream: %v", err)
	}
	if ok, _ := p.rdb.HExists(ctx, keys.Prepared, "typed").Result(); !ok {
		t.Fatal("the failed release deleted the event")
	}
	if n, _ := p.rdb.XLen(ctx, keys.Events).Result(); n != 0 {
		t.Fatalf("a failed release appended %d entries", n)
	}
	if n, _ := p.rdb.ZCard(ctx, keys.PreparedDue).Result(); n != 2 {
		t.Fatalf("a failed release touched the due set")
	}
}

// A confirm naming many ids is pipelined a chunk at a time: every prepared
// one is appended once, in the order named, and the rest are unknown.
func TestConfirmManyIDs(t *testing.T) {
	var clock atomic.Int64
	clock.Store(t0)
	keys := preparedKeys(t)
	p := startPrepared(t, keys, &clock, "")
	var evs, ids []string
	for i := range 250 {
		id := fmt.Sprintf("m%03d", i)
		ids = append(ids, id)
		if i%50 != 7 {
			evs = append(evs, pev(id))
		}
	}
	if st, body := post(t, p.url+"?prepare=1", "["+strings.Join(evs, ",")+"]"); st != 202 || body["prepared"] != float64(245) {
		t.Fatalf("prepare: %d %v", st, body)
	}
	b, _ := json.Marshal(map[string][]string{"ids": ids})
	st, body := post(t, p.url+"/confirm", string(b))
	if st != 200 || body["confirmed"] != float64(245) || fmt.Sprint(body["unknown"]) != "[m007 m057 m107 m157 m207]" {
		t.Fatalf("confirm: %d %v", st, body)
	}
	got := p.ids(t, keys.Events)
	if len(got) != 245 || got[0] != "m000" || got[244] != "m249" || got[7] != "m008" {
		t.Fatalf("appended %d: %v…", len(got), got[:min(10, len(got))])
	}
}
