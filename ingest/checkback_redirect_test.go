package ingest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// A check-back answered with a redirect is not followed: the answer counts
// as unknown, the event stays prepared, and the redirect's target is never
// asked (docs/security.md, "Transport").
func TestCheckBackRedirectNotFollowed(t *testing.T) {
	var asked atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		fmt.Fprint(w, `{"status":"commit"}`)
	}))
	defer target.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/check?"+r.URL.RawQuery, http.StatusFound)
	}))
	defer redirect.Close()
	var clock atomic.Int64
	clock.Store(t0)
	keys := preparedKeys(t)
	p := startPrepared(t, keys, &clock, redirect.URL+"/check")
	if st, body := post(t, p.url+"?prepare=1", pev("r1")); st != 202 {
		t.Fatalf("prepare: %d %v", st, body)
	}
	clock.Store(t0 + 30_000)
	if n, err := p.srv.checker.checkDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("check-back: %d %v", n, err)
	}
	if got := p.ids(t, keys.Events); len(got) != 0 || asked.Load() != 0 {
		t.Fatalf("the redirect was followed: stream %v, target asked %d times", got, asked.Load())
	}
	if s := p.status(t); s.Prepared != 1 {
		t.Fatalf("prepared %d, want 1 (asked again later)", s.Prepared)
	}
	status, detail := p.srv.checker.ask(context.Background(), "r1", "")
	if status != CheckUnknown || !strings.Contains(detail, "302") || !strings.Contains(detail, "not followed") || asked.Load() != 0 {
		t.Fatalf("ask: %s %q, target asked %d times", status, detail, asked.Load())
	}
}
