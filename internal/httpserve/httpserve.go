// Package httpserve runs an HTTP server in the background with an
// idempotent, bounded stop, and writes JSON answers; the admin and ingest
// servers use it.
package httpserve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is one HTTP server.
type Server struct {
	setting string // the setting that names the address, for errors
	addr    string
	srv     *http.Server
	ln      net.Listener
	once    sync.Once
	log     *slog.Logger
}

// New prepares a server for handler on addr; setting (such as "admin.addr")
// names the address in errors.
func New(setting, addr string, handler http.Handler, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{setting: setting, addr: addr, log: logger,
		srv: &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}}
}

// Start listens and serves in the background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("%s %s: %w", s.setting, s.addr, err)
	}
	s.ln = ln
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "setting", s.setting, "err", err)
		}
	}()
	s.log.Info("listening", "setting", s.setting, "addr", ln.Addr().String())
	return nil
}

// Addr is where the server listens, once started.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Close stops taking requests and lets open ones finish until ctx ends. Safe
// to call more than once.
func (s *Server) Close(ctx context.Context) error {
	var err error
	s.once.Do(func() { err = s.srv.Shutdown(ctx) })
	return err
}

// WriteJSON writes v as a JSON answer with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
