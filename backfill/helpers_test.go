package backfill_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/backfill"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/source"
)

// env is a test's Redis keys of its own.
type env struct {
	rdb  *redis.Client
	keys layout.Keys
}

func newEnv(t *testing.T) env {
	t.Helper()
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	return env{rdb: rdb, keys: layout.NewKeys(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry")}
}

func (e env) config() backfill.Config {
	return backfill.Config{Stream: e.keys.Events, StateKey: e.keys.Backfill}
}

// rec is one source record of the tests: entity sub, key k<i>, account
// a<i mod 500>, version 100+i.
func rec(i int) source.Record {
	return source.Record{Entity: "sub", Key: fmt.Sprintf("k%d", i), Account: fmt.Sprintf("a%d", i%500),
		Version: int64(100 + i), Data: json.RawMessage(fmt.Sprintf(`{"i":%d,"from":"source"}`, i))}
}

// fileSource writes n records as JSON Lines and opens them as a file source.
func fileSource(t *testing.T, n int) source.Source {
	t.Helper()
	var b strings.Builder
	for i := range n {
		line, _ := json.Marshal(rec(i))
		b.Write(line)
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "records.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := source.New(source.Config{Kind: source.KindFile, File: path, PageSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return src
}

// httpSource is a second partnersim playing our system, holding n records,
// read over HTTP in pages of pageSize.
func httpSource(t *testing.T, n, pageSize int) source.Source {
	t.Helper()
	sim, err := partnersim.New(partnersim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	for i := range n {
		r := rec(i)
		body := fmt.Sprintf(`{"account":%q,"version":%d,"data":%s}`, r.Account, r.Version, r.Data)
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/v1/sub/"+url.PathEscape(r.Key), strings.NewReader(body))
		req.Header.Set("Idempotency-Key", "seed-"+r.Key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("seed %s: %d", r.Key, resp.StatusCode)
		}
	}
	src, err := source.New(source.Config{Kind: source.KindHTTP, BaseURL: srv.URL, Entities: []string{"sub"}, PageSize: pageSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return src
}

// streamed is every entry of the events stream: key → event ids.
func (e env) streamed(t *testing.T) (map[string][]string, []map[string]any) {
	t.Helper()
	msgs, err := e.rdb.XRange(context.Background(), e.keys.Events, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	by := map[string][]string{}
	var all []map[string]any
	for _, m := range msgs {
		by[m.Values["key"].(string)] = append(by[m.Values["key"].(string)], m.Values["id"].(string))
		all = append(all, m.Values)
	}
	return by, all
}

// hook is a Progress that calls a function on every batch.
type hook struct {
	mu  sync.Mutex
	n   int
	fn  func(total int, at time.Time)
	fin bool
}

func (h *hook) Start(int64) {}
func (h *hook) Add(n int) {
	h.mu.Lock()
	h.n += n
	total := h.n
	h.mu.Unlock()
	if h.fn != nil {
		h.fn(total, time.Now())
	}
}
func (h *hook) Finish() { h.mu.Lock(); h.fin = true; h.mu.Unlock() }
