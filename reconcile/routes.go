package reconcile

import (
	"net/http"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// AdminRoutes adds reconciliation's endpoints of the admin API to next
// (docs/reconcile.md, docs/console.md): GET /api/v1/reconcile/runs, the
// last runs read from conn and database db, and POST /api/v1/reconcile/run,
// a run started by s with a Reconciler from build (StartHandler). Without
// the attempt log's ClickHouse (conn, s and build nil) there are no runs to
// list and a run asked for is answered 501. Every other request goes to next.
func AdminRoutes(next http.Handler, conn driver.Conn, db string, s *Starter, build BuildFunc) http.Handler {
	mux := http.NewServeMux()
	if conn != nil {
		mux.Handle("GET /api/v1/reconcile/runs", RunsHandler(conn, db))
	}
	mux.Handle("POST /api/v1/reconcile/run", StartHandler(s, build))
	mux.Handle("/", next)
	return mux
}
