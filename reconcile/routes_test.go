package reconcile_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/admin"
	"github.com/streamsync/streamsync/reconcile"
)

// The admin API's reconciliation routes, with and without ClickHouse;
// every other request goes on to the rest of the API.
func TestAdminRoutes(t *testing.T) {
	w := newWorld(t)
	next := http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(http.StatusTeapot) })
	s, err := reconcile.NewStarter(reconcile.StartConfig{LockKey: w.keys.ReconcileLock()}, w.rdb)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	build := func(c reconcile.Config) (*reconcile.Reconciler, func(), error) {
		return w.reconciler(c, true), func() {}, nil
	}
	with := admin.ReconcileRoutes(next, reconcile.RunsHandler(w.conn, w.db), reconcile.StartHandler(s, build))
	without := admin.ReconcileRoutes(next, nil, reconcile.StartHandler(nil, nil))
	tests := []struct {
		name         string
		h            http.Handler
		method, path string
		body         string
		want         int
	}{
		{"runs", with, http.MethodGet, "/api/v1/reconcile/runs", "", http.StatusOK},
		{"runs without ClickHouse", without, http.MethodGet, "/api/v1/reconcile/runs", "", http.StatusTeapot},
		{"a run with a bad body", with, http.MethodPost, "/api/v1/reconcile/run", "{", http.StatusBadRequest},
		{"a run without ClickHouse", without, http.MethodPost, "/api/v1/reconcile/run", "{}", http.StatusNotImplemented},
		{"the rest of the API", with, http.MethodGet, "/api/v1/dead", "", http.StatusTeapot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body)))
			if rec.Code != tt.want {
				t.Fatalf("%s %s: %d %s, want %d", tt.method, tt.path, rec.Code, rec.Body, tt.want)
			}
		})
	}
}
