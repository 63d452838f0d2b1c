package partner

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/delivery"
)

// TestRedirectNotFollowed: a 3xx is the partner's answer, a permanent
// failure naming the status and Location; the target is never called.
func TestRedirectNotFollowed(t *testing.T) {
	followed := false
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { followed = true }))
	defer target.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	s, err := New(Config{BaseURL: redirect.URL})
	if err != nil {
		t.Fatal(err)
	}
	r := s.Send(context.Background(), event.Event{ID: "e1", Account: "a", Entity: "reg", Key: "k", Op: event.OpUpsert, Version: 1, Data: json.RawMessage(`{}`)})
	if r.Class != delivery.Permanent || r.Status != http.StatusTemporaryRedirect || !strings.Contains(r.Detail, target.URL+"/elsewhere") || followed {
		t.Fatalf("redirect: %+v, followed %v", r, followed)
	}
}
