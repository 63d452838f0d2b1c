package admin

import (
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Every route of the admin server (docs/operations.md "Admin HTTP",
// docs/console.md, docs/reconcile.md), in one place. "token": the request
// needs "Authorization: Bearer <admin.token>" when a token is set.
//
//	method  path                       handler                     token  served
//	GET     /healthz                   inline                      no     always
//	GET     /readyz                    Server.handleReady          no     always
//	GET     /metrics                   promhttp                    no     with a gatherer
//	GET     /                          the console's index.html    no     with an API
//	GET     /console/auth              inline                      no     with an API
//	GET     /console/                  the console's files         no     with an API
//	GET     /api/v1/partners           partnersHandler             yes    with an API
//	*       /api/                      the API below               yes    with an API
//	*       /debug/pprof/              pprof.Index                 yes    with a token
//	*       /debug/pprof/profile       pprof.Profile               yes    with a token
//	*       /debug/pprof/trace         pprof.Trace                 yes    with a token
//
// The API (NewAPI, Console.Wrap, ReconcileRoutes), all under /api/:
//
//	GET     /api/v1/status             statusHandler
//	GET     /api/v1/dead               deadListHandler
//	POST    /api/v1/dead/replay        deadActHandler("replayed")
//	POST    /api/v1/dead/drop          deadActHandler("dropped")
//	GET     /api/v1/chains             chainsHandler
//	GET     /api/v1/chains/{id}        familyHandler
//	GET     /api/v1/series             Console.handleSeries
//	GET     /api/v1/chain              Console.handleChain
//	GET     /api/v1/reconcile/runs     reconcile.RunsHandler (with ClickHouse)
//	POST    /api/v1/reconcile/run      reconcile.StartHandler

// routes adds the server's own routes to s.mux; api, when not nil, is
// served under /api/ behind the token, with the console.
func (s *Server) routes(gatherer prometheus.Gatherer, api http.Handler) {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	if gatherer != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	}
	if api != nil {
		s.mux.Handle("/api/", s.requireToken(api))
		s.mux.Handle("GET /api/v1/partners", s.requireToken(partnersHandler(s.cfg.Partners)))
		// The operators' console: static files that call /api/ with the token
		// the operator types in (docs/operations.md's web page).
		files, _ := fs.Sub(consoleFiles, "console")
		index, _ := fs.ReadFile(files, "index.html")
		static := http.StripPrefix("/console/", http.FileServerFS(files))
		s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Security-Policy", consoleCSP)
			w.Header().Set("Cache-Control", "no-cache")
			_, _ = w.Write(index)
		})
		// Whether the console must ask for the token before its first call.
		s.mux.HandleFunc("GET /console/auth", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]bool{"token_required": s.cfg.Token != ""})
		})
		s.mux.HandleFunc("GET /console/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", consoleCSP)
			w.Header().Set("Cache-Control", "no-cache")
			static.ServeHTTP(w, r)
		})
	}
	// Profiles and execution traces for load runs (`go tool pprof`,
	// `go tool trace`), only behind the token: they show memory and
	// goroutines, so without a token they are not served (404).
	if s.cfg.Token != "" {
		s.mux.Handle("/debug/pprof/", s.requireToken(http.HandlerFunc(pprof.Index)))
		s.mux.Handle("/debug/pprof/profile", s.requireToken(http.HandlerFunc(pprof.Profile)))
		s.mux.Handle("/debug/pprof/trace", s.requireToken(http.HandlerFunc(pprof.Trace)))
	}
}

// NewAPI serves /api/v1/status, the dead-letter endpoints and the chains of
// docs/operations.md ("Admin HTTP"), each bounded (limits.go); chains may be
// nil when the attempt log is off.
func NewAPI(ops Operations, chains ChainLister, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/status", statusHandler(ops))
	mux.HandleFunc("GET /api/v1/dead", deadListHandler(ops))
	mux.HandleFunc("GET /api/v1/chains", chainsHandler(chains))
	mux.HandleFunc("GET /api/v1/chains/{id}", familyHandler(chains))
	mux.HandleFunc("POST /api/v1/dead/replay", deadActHandler("replayed", ops.ReplayDead, logger))
	mux.HandleFunc("POST /api/v1/dead/drop", deadActHandler("dropped", ops.DropDead, logger))
	return mux
}

// Wrap serves the console's endpoints and hands every other request to api.
func (c *Console) Wrap(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.HandleFunc("GET /api/v1/series", c.handleSeries)
	mux.HandleFunc("GET /api/v1/chain", c.handleChain)
	return mux
}

// ReconcileRoutes adds reconciliation's endpoints of the admin API to next
// (docs/reconcile.md, docs/console.md): GET /api/v1/reconcile/runs served
// by runs (reconcile.RunsHandler), not at all when runs is nil (without the
// attempt log's ClickHouse there are no runs to list), and POST
// /api/v1/reconcile/run served by start (reconcile.StartHandler). Every
// other request goes to next.
func ReconcileRoutes(next, runs, start http.Handler) http.Handler {
	mux := http.NewServeMux()
	if runs != nil {
		mux.Handle("GET /api/v1/reconcile/runs", runs)
	}
	mux.Handle("POST /api/v1/reconcile/run", start)
	mux.Handle("/", next)
	return mux
}
