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

	"golang.org/x/net/netutil"
)

// Config configures a Server.
type Config struct {
	// Setting names the address in errors, such as "admin.addr".
	Setting string
	// Addr is host:port to listen on.
	Addr    string
	Handler http.Handler
	Logger  *slog.Logger
	// Limits bound time, header bytes and connections; zero fields take
	// their defaults.
	Limits Limits
	// LoopbackOnly, when set, makes Start refuse to serve on an address
	// that is not loopback, naming this setting as the way out (such as
	// "ingest.tokens"): a server without credentials stays on its host
	// (docs/security.md).
	LoopbackOnly string
	// Now is the clock of the body deadlines (time.Now).
	Now func() time.Time
}

// Server is one HTTP server.
type Server struct {
	cfg  Config
	srv  *http.Server
	ln   net.Listener
	once sync.Once
	log  *slog.Logger
}

// New prepares a server for handler on addr with the default Limits;
// setting (such as "admin.addr") names the address in errors.
func New(setting, addr string, handler http.Handler, logger *slog.Logger) *Server {
	return NewServer(Config{Setting: setting, Addr: addr, Handler: handler, Logger: logger})
}

// NewServer prepares a server; Start listens.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Limits.setDefaults()
	l := cfg.Limits
	return &Server{cfg: cfg, log: cfg.Logger, srv: &http.Server{
		Handler:           deadline(bodyRate(cfg.Handler, l.BodyGrace, l.MinBodyRate, cfg.Now), l.WriteTimeout),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}}
}

// Start listens and serves in the background. It fails when the address
// cannot be listened on, or is not loopback while Config.LoopbackOnly is
// set.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("%s %s: %w", s.cfg.Setting, s.cfg.Addr, err)
	}
	if s.cfg.LoopbackOnly != "" {
		if a, ok := ln.Addr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
			_ = ln.Close()
			return fmt.Errorf("%s %s listens on %s, which is not loopback: set %s, or listen on 127.0.0.1 (docs/security.md)",
				s.cfg.Setting, s.cfg.Addr, ln.Addr(), s.cfg.LoopbackOnly)
		}
	}
	s.ln = ln
	go func() {
		if err := s.srv.Serve(netutil.LimitListener(ln, s.cfg.Limits.MaxConns)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "setting", s.cfg.Setting, "err", err)
		}
	}()
	s.log.Info("listening", "setting", s.cfg.Setting, "addr", ln.Addr().String(), "limits", s.cfg.Limits.String())
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
