package reconcile_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/reconcile"
)

// POST /api/v1/reconcile/run: 409 while another run (a scheduled one, in
// any process) holds the lock; 202 with the run id once it is free, the run
// then recorded under that id; 400 for a bad body; 501 without ClickHouse.
func TestStartHandler(t *testing.T) {
	w := newWorld(t)
	seedClasses(w)
	ctx := context.Background()
	s, err := reconcile.NewStarter(reconcile.StartConfig{LockKey: w.keys.ReconcileLock()}, w.rdb)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	built := 0
	closed := make(chan struct{}, 4)
	build := func(c reconcile.Config) (*reconcile.Reconciler, func(), error) {
		built++
		if len(c.Entities) != 1 || c.Entities[0] != "reg" || c.Repair {
			t.Errorf("config from the body: %+v", c)
		}
		return w.reconciler(c, true), func() { closed <- struct{}{} }, nil
	}
	h := reconcile.StartHandler(s, build)
	post := func(h http.Handler, body string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/reconcile/run", strings.NewReader(body)))
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	const body = `{"repair":false,"entities":["reg"]}`

	w.rdb.Set(ctx, w.keys.ReconcileLock(), "scheduled-run", time.Minute)
	if code, out := post(h, body); code != http.StatusConflict {
		t.Fatalf("with the lock held: %d %v, want 409", code, out)
	}
	<-closed // what was built for the refused run is closed
	w.rdb.Del(ctx, w.keys.ReconcileLock())

	code, out := post(h, body)
	id, _ := out["run_id"].(string)
	if code != http.StatusAccepted || id == "" {
		t.Fatalf("start: %d %v, want 202 with a run_id", code, out)
	}
	<-closed // the run ended
	if n, _ := w.rdb.Exists(ctx, w.keys.ReconcileLock()).Result(); n != 0 {
		t.Fatal("the lock outlived the run")
	}
	runs, err := reconcile.LastRuns(ctx, w.conn, w.db, 5, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) == 0 || runs[0].RunID != id || runs[0].Missing != 1 {
		t.Fatalf("runs %+v: want the started run %s first, with its difference", runs, id)
	}

	if code, _ := post(h, `{"repair":"yes"}`); code != http.StatusBadRequest {
		t.Fatalf("bad body: %d, want 400", code)
	}
	if code, out := post(reconcile.StartHandler(nil, nil), body); code != http.StatusNotImplemented || !strings.Contains(out["error"].(string), "not configured") {
		t.Fatalf("without ClickHouse: %d %v, want 501", code, out)
	}
	if built != 2 {
		t.Fatalf("built %d reconcilers, want 2", built)
	}
}
