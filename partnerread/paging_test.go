package partnerread_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamsync/streamsync/partnerread"
	"github.com/streamsync/streamsync/profile"
	"github.com/streamsync/streamsync/source"
)

const profileHead = `name: t
base_url: http://placeholder.invalid/api
versions: number
defaults:
  upsert: {method: PUT, path: "/items/{key}"}
  delete: {method: DELETE, path: "/items/{key}"}
  read:
    get: {path: "/items/{key}"}
    items: .items
    item: '{key: .id, version: .v, deleted: (.archived == true), data: {n: .n}}'
`

func item(i int) map[string]any {
	return map[string]any{"id": fmt.Sprintf("r%d", i), "v": i, "n": i, "archived": i == 4}
}

// pagedServer serves 7 items (r4 archived) by paging kind; a page holds 2.
func pagedServer(t *testing.T, kind string) *httptest.Server {
	var hs *httptest.Server
	hs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/items") {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		from := 0
		switch kind {
		case "cursor":
			from, _ = strconv.Atoi(strings.TrimPrefix(q.Get("cursor"), "c"))
		case "next_link":
			from, _ = strconv.Atoi(q.Get("after"))
		case "link_header":
			from, _ = strconv.Atoi(q.Get("p"))
			from *= 2
		case "offset":
			from, _ = strconv.Atoi(q.Get("offset"))
			if q.Get("limit") != "2" {
				t.Errorf("limit %q", q.Get("limit"))
			}
		case "page":
			p, _ := strconv.Atoi(q.Get("page"))
			from = (p - 1) * 2
		}
		var items []any
		for i := from + 1; i <= min(from+2, 7); i++ {
			items = append(items, item(i))
		}
		body := map[string]any{"items": items}
		if from+2 < 7 {
			switch kind {
			case "cursor":
				body["next"] = fmt.Sprintf("c%d", from+2)
			case "next_link":
				body["next"] = fmt.Sprintf("items?after=%d", from+2) // relative to this page
			case "link_header":
				w.Header().Add("Link", fmt.Sprintf(`<%s/api/items?p=0>; rel="first"`, hs.URL))
				w.Header().Add("Link", fmt.Sprintf(`</api/items?p=%d>; rel="next", </api/items?p=3>; rel="last"`, from/2+1))
			}
		}
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(hs.Close)
	return hs
}

var pagings = map[string]string{
	"cursor":      `{kind: cursor, param: cursor, next: .next}`,
	"next_link":   `{kind: next_link, next: .next}`,
	"link_header": `{kind: link_header}`,
	"offset":      `{kind: offset, size: 2, size_param: limit}`,
	"page":        `{kind: page, size: 2}`,
}

func reader(t *testing.T, src, baseURL string, mod func(*partnerread.Config)) *partnerread.Reader {
	t.Helper()
	p, err := profile.Parse([]byte(src), "test")
	if err != nil {
		t.Fatal(err)
	}
	cfg := partnerread.Config{Profile: p, BaseURL: baseURL}
	if mod != nil {
		mod(&cfg)
	}
	r, err := partnerread.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func listAll(ctx context.Context, it source.Iterator) ([]string, error) {
	var keys []string
	for {
		page, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return keys, nil
		}
		if err != nil {
			return keys, err
		}
		for _, r := range page {
			keys = append(keys, r.Key)
		}
	}
}

// Every paging kind reads every record once, over HTTP: cursors, relative
// next links, RFC 8288 Link headers, offsets and page numbers; archived
// items are left out.
func TestPagingKinds(t *testing.T) {
	for kind, paging := range pagings {
		t.Run(kind, func(t *testing.T) {
			hs := pagedServer(t, kind)
			r := reader(t, profileHead+"    list: {path: /items}\n    paging: "+paging+"\n", hs.URL+"/api", nil)
			keys, err := listAll(context.Background(), r.List("x", source.ListOptions{}))
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"r1", "r2", "r3", "r5", "r6", "r7"}; !slices.Equal(keys, want) {
				t.Fatalf("keys %v, want %v", keys, want)
			}
		})
	}
}

// A cursor that comes back ends the listing with an error after a bounded
// number of requests, never a loop.
func TestRepeatingCursor(t *testing.T) {
	var n atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = io.WriteString(w, `{"items":[{"id":"a","v":1,"n":1}],"next":"same"}`)
	}))
	defer hs.Close()
	r := reader(t, profileHead+"    list: {path: /items}\n    paging: "+pagings["cursor"]+"\n", hs.URL+"/api", nil)
	_, err := listAll(context.Background(), r.List("x", source.ListOptions{}))
	if !errors.Is(err, profile.ErrPagingLoop) || n.Load() != 2 {
		t.Fatalf("err %v after %d requests", err, n.Load())
	}
	// An offset the partner ignores: the same full page twice is an error.
	n.Store(0)
	hs2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = io.WriteString(w, `{"items":[{"id":"a","v":1,"n":1},{"id":"b","v":1,"n":1}]}`)
	}))
	defer hs2.Close()
	r = reader(t, profileHead+"    list: {path: /items}\n    paging: "+pagings["offset"]+"\n", hs2.URL+"/api", nil)
	if _, err := listAll(context.Background(), r.List("x", source.ListOptions{})); !errors.Is(err, profile.ErrPagingLoop) || n.Load() != 2 {
		t.Fatalf("ignored offset: err %v after %d requests", err, n.Load())
	}
}

// Answers are bounded, transient failures asked again, redirects never
// followed; a point read's 404 and an archived item are both not found;
// credentials come from the Authorize hook.
func TestBoundsRetriesAndGets(t *testing.T) {
	var fails atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Key") != "k" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/api/items/r1":
			if fails.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			_, _ = io.WriteString(w, `{"items":[{"id":"r0","v":1,"n":0},{"id":"r1","v":3,"n":1.10}]}`)
		case "/api/items/r4":
			_, _ = io.WriteString(w, `{"items":[{"id":"r4","v":3,"n":1,"archived":true}]}`)
		case "/api/items/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/api/items":
			_, _ = io.WriteString(w, `{"items":[{"id":"r1","v":1,"n":"`+strings.Repeat("x", 2000)+`"}]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer hs.Close()
	src := profileHead + "    list: {path: /items}\n    paging: {kind: offset}\n    max_page_bytes: 1000\n"
	r := reader(t, src, hs.URL+"/api", func(c *partnerread.Config) {
		c.Authorize = func(req *http.Request, _ []byte, _ time.Time, _ string) error {
			req.Header.Set("X-Key", "k")
			return nil
		}
	})
	ctx := context.Background()
	rec, found, err := r.Get(ctx, "x", "r1")
	if err != nil || !found || rec.Version != 3 || string(rec.Data) != `{"n":1.1}` || fails.Load() != 2 {
		t.Fatalf("get r1: %+v %v %v after %d tries", rec, found, err, fails.Load())
	}
	for _, key := range []string{"r4", "nope"} {
		if _, found, err := r.Get(ctx, "x", key); err != nil || found {
			t.Fatalf("get %s: found %v, err %v", key, found, err)
		}
	}
	var se *source.StatusError
	if _, _, err := r.Get(ctx, "x", "moved"); !errors.As(err, &se) || se.Status != http.StatusFound {
		t.Fatalf("redirect: %v", err)
	}
	if _, err := listAll(ctx, r.List("x", source.ListOptions{})); err == nil || !strings.Contains(err.Error(), "over 1000 bytes") {
		t.Fatalf("page over max_page_bytes: %v", err)
	}
}
