package admin

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamsync/streamsync/internal/httpserve"
)

// consoleFiles holds the operators' console: index.html, app.js, app.css; no
// file is fetched from anywhere else (no CDN).
//
//go:embed console
var consoleFiles embed.FS

// consoleCSP keeps the console to its own files.
const consoleCSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// Config is the admin server's section of the settings.
type Config struct {
	// Addr is host:port to listen on (admin.addr). Without a Token it must
	// be a loopback address: New refuses any other.
	Addr string
	// Token, when set, is required as "Authorization: Bearer <token>" on
	// /api/ and /debug/pprof/ (admin.token); without one the profiles are
	// not served at all.
	Token string
	// Hosts are further names (host or host:port) a request's Host may
	// carry besides Addr's own, e.g. a reverse proxy's (admin.hosts).
	Hosts []string
	// Partners are the configured partners' names, served at GET
	// /api/v1/partners for the console's partner switch (docs/console.md).
	Partners []string
	// HTTP bounds time, header bytes and connections (docs/security.md);
	// zero fields take httpserve's defaults.
	HTTP httpserve.Limits
}

// ReadyFunc reports why the process is not ready, or nil when it is.
type ReadyFunc func(ctx context.Context) error

// Server is the admin HTTP server.
type Server struct {
	cfg   Config
	log   *slog.Logger
	http  *httpserve.Server
	mux   *http.ServeMux
	ready ReadyFunc
}

// New builds the server; API, when not nil, is served under /api/ behind the token.
func New(cfg Config, ready ReadyFunc, gatherer prometheus.Gatherer, api http.Handler, logger *slog.Logger) (*Server, error) {
	if cfg.Addr == "" {
		return nil, errors.New("admin: address required")
	}
	if ready == nil {
		return nil, errors.New("admin: ready func required")
	}
	if cfg.Token == "" && !isLoopback(cfg.Addr) {
		// Config validation says so first; this is the second lock.
		return nil, fmt.Errorf("admin.token: required when admin.addr (%s) is not a loopback address (docs/security.md)", cfg.Addr)
	}
	extra, err := parseHosts(cfg.Hosts)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: logger, ready: ready, mux: http.NewServeMux()}
	s.routes(gatherer, api)
	g := &guard{configured: cfg.Addr, extra: extra, next: s.mux, log: logger}
	s.http = httpserve.NewServer(httpserve.Config{Setting: "admin.addr", Addr: cfg.Addr, Handler: g, Logger: logger, Limits: cfg.HTTP})
	g.listening = s.http.Addr
	return s, nil
}

// Start listens and serves in the background; Addr then tells where.
func (s *Server) Start() error { return s.http.Start() }

// Addr is the address the server listens on, once started.
func (s *Server) Addr() string { return s.http.Addr() }

// Close stops the server, waiting for open requests until ctx ends. It is
// safe to call more than once.
func (s *Server) Close(ctx context.Context) error { return s.http.Close(ctx) }

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) requireToken(h http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !tokenEqual(got, s.cfg.Token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="streamsync"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "admin token required"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

var writeJSON = httpserve.WriteJSON
