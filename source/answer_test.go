package source_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/streamsync/streamsync/source"
)

// An answer is used whole or not at all. A record whose body the connection
// cut was an error nobody retried (a sync event dead-lettered rejected); now
// it is transient, and a list page cut once is asked again. An answer
// longer than MaxAnswer is an error saying so, not its start read as if it
// were all.
func TestHTTPAnswersAreReadWhole(t *testing.T) {
	var cuts atomic.Int64
	cuts.Store(1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body string
		switch r.URL.Path {
		case "/v1/reg/long", "/v1/long":
			body = `{"account":"a","version":1,"data":{"pad":"` + strings.Repeat("x", 4096) + `"},"items":[],"next_cursor":""}`
		case "/v1/reg/cut":
			body = `{"account":"a","version":1,"data":{}}`
			w.Header().Set("Content-Length", fmt.Sprint(len(body)+100)) // promises more than it sends: the connection breaks
		case "/v1/cut":
			body = `{"items":[{"key":"k","account":"a","version":1,"data":{}}],"next_cursor":""}`
			if cuts.Add(-1) >= 0 {
				w.Header().Set("Content-Length", fmt.Sprint(len(body)+100))
			}
		}
		_, _ = w.Write([]byte(body))
	}))
	defer hs.Close()
	src, err := source.New(source.Config{Kind: source.KindHTTP, BaseURL: hs.URL, MaxAnswer: 1024})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, _, err := src.Get(ctx, "reg", "cut"); err == nil || !source.IsTransient(err) || !strings.Contains(err.Error(), "cut short") {
		t.Fatalf("a record cut short: want a transient error, got %v", err)
	}
	if _, _, err := src.Get(ctx, "reg", "long"); err == nil || source.IsTransient(err) || !strings.Contains(err.Error(), "over 1024 bytes") {
		t.Fatalf("a record over MaxAnswer: want a permanent error saying so, got %v", err)
	}
	if _, err := src.List("long", source.ListOptions{}).Next(ctx); err == nil || !strings.Contains(err.Error(), "over 1024 bytes") {
		t.Fatalf("a list page over MaxAnswer: want an error saying so, got %v", err)
	}
	page, err := src.List("cut", source.ListOptions{}).Next(ctx)
	if err != nil || len(page) != 1 || page[0].Key != "k" {
		t.Fatalf("a list page cut once is asked again: %v %v", page, err)
	}
}
