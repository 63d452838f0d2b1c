package partnerread

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/profile"
	"github.com/streamsync/streamsync/source"
)

// An API key sent in the query never shows in a failed read's error or
// log line, however short it is.
func TestQueryKeyNotInErrorsOrLogs(t *testing.T) {
	p, err := profile.Parse([]byte(`name: q
base_url: http://127.0.0.1:1
auth: {kind: api_key, query: apikey, key: k3y}
defaults:
  upsert: {method: PUT, path: "/r/{key}"}
  delete: {method: DELETE, path: "/r/{key}"}
  read:
    get: {path: "/r/{key}"}
    list: {path: /r}
    paging: {kind: offset, param: offset, size: 10, size_param: limit}
`), "q.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	r, err := New(Config{Profile: p, Retries: 1, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.List("x", source.ListOptions{}).Next(context.Background())
	if err == nil {
		t.Fatal("a read of a closed port succeeded")
	}
	_, _, gerr := r.Get(context.Background(), "x", "k")
	for _, text := range []string{err.Error(), gerr.Error(), log.String()} {
		if strings.Contains(text, "k3y") {
			t.Fatalf("the key shows: %s", text)
		}
	}
	if !strings.Contains(log.String(), "asking again") {
		t.Fatalf("no retry logged: %s", log.String())
	}
}

// A partner that echoes the API key in an error answer does not put it in
// the read's error.
func TestEchoedKeyMasked(t *testing.T) {
	const key = "echoed-key-0123456789"
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"bad request","apikey":"` + r.URL.Query().Get("apikey") + `"}`))
	}))
	defer hs.Close()
	p, err := profile.Parse([]byte(`name: q
base_url: `+hs.URL+`
auth: {kind: api_key, query: apikey, key: `+key+`}
defaults:
  upsert: {method: PUT, path: "/r/{key}"}
  delete: {method: DELETE, path: "/r/{key}"}
  read:
    get: {path: "/r/{key}"}
    list: {path: /r}
    paging: {kind: offset, param: offset, size: 10, size_param: limit}
`), "q.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Config{Profile: p, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.List("x", source.ListOptions{}).Next(context.Background())
	if err == nil || !strings.Contains(err.Error(), "bad request") || strings.Contains(err.Error(), key) {
		t.Fatalf("err %v", err)
	}
}
