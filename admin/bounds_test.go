package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/internal/httpserve"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/reconcile"
)

// deadLetters writes n dead letters whose data is size bytes into a fresh
// dead-letter stream and returns the operations over it.
func deadLetters(t *testing.T, n, size int) (*inspect.Inspector, redis.UniversalClient, layout.Keys) {
	t.Helper()
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	keys := layout.NewShards(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry", 1, false)[0]
	ctx := context.Background()
	data := `{"x":"` + strings.Repeat("a", size) + `"}`
	pipe := rdb.Pipeline()
	for i := range n {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: keys.Dead, Values: []any{"id", fmt.Sprint("d-", i), "account", "acc", "entity", "main",
			"key", fmt.Sprint("k-", i), "op", "upsert", "version", "1", "data", data,
			"dead_reason", "invalid", "dead_error", "op: bad", "dead_attempts", "0", "dead_at", fmt.Sprint(time.Now().UnixMilli())}})
		if i%1000 == 999 {
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return inspect.New(inspect.Options{RDB: rdb, Keys: keys, Instance: "admin-test"}), rdb, keys
}

// startWith serves NewAPI(ops) (and the console's endpoints) through New.
func startWith(t *testing.T, ops Operations, chains ChainLister, tl TimelineFinder) string {
	t.Helper()
	c, err := NewConsole(ConsoleConfig{}, ops, tl, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Addr: "127.0.0.1:0"}, func(context.Context) error { return nil }, nil, c.Wrap(NewAPI(ops, chains, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return "http://" + s.Addr()
}

// One replay or drop handles at most MaxPerCall dead letters and says
// "more" until none are left; a body over MaxBodyBytes is 413, more than
// MaxIDs ids or a second JSON value 400, and none of them drops anything.
func TestDropBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Redis")
	}
	ops, rdb, keys := deadLetters(t, MaxPerCall+2000, 1)
	base := startWith(t, ops, nil, nil)
	ctx := context.Background()
	left := func() int64 { n, _ := rdb.XLen(ctx, keys.Dead).Result(); return n }
	drop := base + "/api/v1/dead/drop"

	many := make([]string, MaxIDs+1)
	for i := range many {
		many[i] = fmt.Sprint("d-", i)
	}
	tooMany, _ := json.Marshal(map[string]any{"ids": many})
	refused := []struct {
		name, body string
		status     int
		contains   string
	}{
		{"a body over 1 MiB", `{"ids":["` + strings.Repeat("x", MaxBodyBytes) + `"]}`, 413, "larger than"},
		{"more ids than MaxIDs", string(tooMany), 400, "at most 10000 ids"},
		{"a second JSON value", `{"ids":["d-1"]} {"all":true}`, 400, "body"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			st, body := call(t, "POST", drop, "", tt.body, jsonCT)
			if st != tt.status || !strings.Contains(body, tt.contains) {
				t.Fatalf("%d %.200s; want %d containing %q", st, body, tt.status, tt.contains)
			}
		})
	}
	if n := left(); n != MaxPerCall+2000 {
		t.Fatalf("%d dead letters left after refused calls", n)
	}

	var answer struct {
		Count int  `json:"count"`
		More  bool `json:"more"`
	}
	st, body := call(t, "POST", drop, "", `{"all":true}`, jsonCT)
	if err := json.Unmarshal([]byte(body), &answer); st != 200 || err != nil || answer.Count != MaxPerCall || !answer.More {
		t.Fatalf("first drop of all: %d %.300s", st, body)
	}
	if n := left(); n != 2000 {
		t.Fatalf("%d left after one call, want 2000", n)
	}
	st, body = call(t, "POST", drop, "", `{"all":true}`, jsonCT)
	answer = struct {
		Count int  `json:"count"`
		More  bool `json:"more"`
	}{}
	if err := json.Unmarshal([]byte(body), &answer); st != 200 || err != nil || answer.Count != 2000 || answer.More {
		t.Fatalf("second drop of all: %d %.300s", st, body)
	}
	if n := left(); n != 0 {
		t.Fatalf("%d left", n)
	}
}

// A page of dead letters stays near inspect.MaxListBytes whatever its
// limit, and its next_cursor goes on from there; limit is 1 to 1000.
func TestDeadListBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Redis")
	}
	ops, _, _ := deadLetters(t, 24, 512<<10)
	base := startWith(t, ops, nil, nil)
	for _, q := range []string{"limit=0", "limit=1001", "limit=x"} {
		if st, body := call(t, "GET", base+"/api/v1/dead?"+q, "", ""); st != 400 || !strings.Contains(body, "limit must be 1 to 1000") {
			t.Fatalf("%s: %d %s", q, st, body)
		}
	}
	seen, pages, cursor := 0, 0, ""
	for {
		st, body := call(t, "GET", base+"/api/v1/dead?limit=1000&cursor="+cursor, "", "")
		if st != 200 {
			t.Fatalf("%d %.200s", st, body)
		}
		if len(body) > 2*inspect.MaxListBytes {
			t.Fatalf("a page of %d bytes for limit=1000 of 512 KiB dead letters", len(body))
		}
		var page struct {
			Items      []inspect.DeadLetter `json:"items"`
			NextCursor string               `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		seen += len(page.Items)
		pages++
		t.Logf("page %d: %d dead letters, %d bytes", pages, len(page.Items), len(body))
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if seen != 24 || pages < 3 {
		t.Fatalf("%d dead letters in %d pages, want 24 in 3 or more", seen, pages)
	}
}

// The chain queries take a window of at most MaxSince and at most
// MaxChains chains, and say when more matched.
func TestChainsQueryBounded(t *testing.T) {
	ch, tl := &fakeChains{}, &fakeTimeline{}
	base := startWith(t, &fakeOps{}, ch, tl)
	tests := []struct {
		path     string
		status   int
		contains string
	}{
		{"/api/v1/chains?since=745h", 400, "at most 744h"},
		{"/api/v1/chains?since=87600h", 400, "narrow the window"},
		{"/api/v1/chains?limit=1001", 400, "limit must be 1 to 1000"},
		{"/api/v1/chains?since=744h&limit=1", 200, `"truncated":true`},
		{"/api/v1/chains", 200, `"truncated":false`},
		{"/api/v1/chain?event_id=e1&since=8760h", 400, "at most 744h"},
		{"/api/v1/chain?event_id=e1", 200, `"truncated":false`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			st, body := call(t, "GET", base+tt.path, "", "")
			if st != tt.status || !strings.Contains(body, tt.contains) {
				t.Fatalf("%d %s; want %d containing %q", st, body, tt.status, tt.contains)
			}
		})
	}
	if ch.got.Limit != DefaultChains {
		t.Fatalf("chains asked with limit %d, want the default %d", ch.got.Limit, DefaultChains)
	}
}

// A POST whose body comes more slowly than the server's limits allow is
// answered 408, and nothing is done — a replay, a drop, and a reconcile run
// mounted on the same API alike; a body over a handler's limit, 413.
func TestSlowBodyRefused(t *testing.T) {
	ops := &fakeOps{}
	started := false
	build := func(reconcile.Config) (*reconcile.Reconciler, func(), error) {
		started = true
		return nil, func() {}, errors.New("no run in this test")
	}
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/reconcile/run", reconcile.StartHandler(&reconcile.Starter{}, build))
	mux.Handle("/", NewAPI(ops, nil, nil))
	s, err := New(Config{Addr: "127.0.0.1:0", HTTP: httpserve.Limits{BodyGrace: 200 * time.Millisecond, MinBodyRate: 1000}},
		func(context.Context) error { return nil }, nil, mux, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	for _, tt := range []struct{ path, body string }{
		{"/api/v1/dead/replay", `{"ids":["d-1","d-2","d-3"]}`},
		{"/api/v1/dead/drop", `{"ids":["d-1","d-2","d-3"]}`},
		{"/api/v1/reconcile/run", `{"repair":false,"entities":["reg"]}`},
	} {
		t.Run(tt.path, func(t *testing.T) {
			status, took := testenv.Trickle(t, s.Addr(), "POST", tt.path, tt.body, jsonCT)
			if status != http.StatusRequestTimeout || took > 3*time.Second {
				t.Fatalf("%d after %s, want 408 within 3s", status, took)
			}
		})
	}
	if len(ops.replayed) != 0 || started {
		t.Fatalf("a slow body was acted on: replayed or dropped %v, run built %v", ops.replayed, started)
	}
	// A body over a handler's limit is 413 there too.
	big := `{"repair":false,"entities":["` + strings.Repeat("e", 64<<10) + `"]}`
	if st, body := call(t, "POST", "http://"+s.Addr()+"/api/v1/reconcile/run", "", big, jsonCT); st != http.StatusRequestEntityTooLarge || started {
		t.Fatalf("a reconcile run with a body over 64 KiB: %d %s, want 413", st, body)
	}
}
