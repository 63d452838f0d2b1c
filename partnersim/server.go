package partnersim

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults that match config/streamsync.example.yaml.
const (
	DefaultAddr         = "127.0.0.1:8081"
	DefaultClientID     = "streamsync"
	DefaultClientSecret = "streamsync-secret"
	DefaultTokenTTL     = time.Hour
	DefaultLogMax       = 1_000_000
	DefaultIdemMax      = 2_000_000
	maxBody             = 8 << 20
)

// Options configure a Server. The zero value is usable: no auth, no faults.
type Options struct {
	// ClientID and ClientSecret are the accepted client credentials; an empty
	// ClientID turns auth off.
	ClientID     string
	ClientSecret string
	// TokenTTL is how long a token lives (DefaultTokenTTL when 0).
	TokenTTL time.Duration
	// Faults at start; /_sim/faults changes them at run time.
	Faults Faults
	// LogMax bounds the request log (oldest entries go first); DefaultLogMax when 0.
	LogMax int
	// IdemMax bounds the remembered idempotency keys (oldest go first); DefaultIdemMax when 0.
	IdemMax int
	// API is which APIs are served: APIBoth (the default, when empty), APIV1
	// or APICRM.
	API string
	// CRM configures the crm API under /crm/ (docs/partnersim-crm.md).
	CRM CRMOptions
	// Echo sends every applied write back as a new change (echo.go); off
	// when its URL is empty.
	Echo EchoOptions
	// Seed makes the injected faults repeatable.
	Seed uint64
	// Now is the clock (time.Now when nil); tests move it to expire tokens.
	Now    func() time.Time
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.TokenTTL <= 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.LogMax <= 0 {
		o.LogMax = DefaultLogMax
	}
	if o.IdemMax <= 0 {
		o.IdemMax = DefaultIdemMax
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.API == "" {
		o.API = APIBoth
	}
	o.CRM.setDefaults()
	if o.Echo.URL != "" {
		o.Echo.setDefaults()
	}
}

func (o Options) validate() error {
	if o.API != APIBoth && o.API != APIV1 && o.API != APICRM {
		return fmt.Errorf("api must be both, v1 or crm, is %q", o.API)
	}
	if err := o.CRM.Validate(); err != nil {
		return err
	}
	if err := o.Echo.Validate(); err != nil {
		return err
	}
	return o.Faults.Validate()
}

// Server is the simulated partner; it is an http.Handler.
type Server struct {
	opts   Options
	mux    *http.ServeMux
	crmMux *http.ServeMux
	crm    *crmStore
	echo   *echoer // nil when the echo is off

	mu       sync.Mutex
	faults   Faults
	rng      *rand.Rand
	tokens   map[string]time.Time
	records  map[recordID]*record
	keys     map[string]*keyIndex // entity → its keys in order, for listing
	driftSeq int64
	idem     map[string]idemAnswer
	idemFIFO []string
	log      []LogEntry
	logSeq   int64
	inFlight map[string]int
	stats    Stats
}

// Stats are counters over the simulator's life (until /_sim/reset).
type Stats struct {
	Requests int64            `json:"requests"`
	ByStatus map[string]int64 `json:"by_status"`
	// ByRoute counts the built-in API's requests by method and route, e.g.
	// "PUT /v1/{entity}/{key}", "GET /v1/{entity}" (the crm API's are in
	// State.CRM.Requests); a request no route matches counts as "other".
	ByRoute      map[string]int64 `json:"by_route"`
	TokensIssued int64            `json:"tokens_issued"`
	// Overlaps counts record requests that arrived while another one for the
	// same account was still being handled.
	Overlaps          int64            `json:"overlaps"`
	OverlapsByAccount map[string]int64 `json:"overlaps_by_account"`
	IdempotentReplays int64            `json:"idempotent_replays"`
	// InFlight is the number of record writes being handled right now.
	InFlight int `json:"in_flight"`
}

// New builds a Server.
func New(opts Options) (*Server, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, faults: opts.Faults, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))}
	s.crm = newCRMStore(opts.CRM, opts.IdemMax, opts.Seed)
	if opts.Echo.URL != "" {
		s.echo = newEchoer(opts.Echo, opts.Now, opts.Logger)
	}
	s.resetLocked()
	s.crmMux = http.NewServeMux()
	s.routeCRM(s.crmMux)
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /oauth/token", s.outageGuard(s.handleToken))
	s.mux.HandleFunc("PUT /v1/{entity}/{key}", s.recordGuard(s.handlePut))
	s.mux.HandleFunc("POST /v1/{entity}/_bulk", s.recordGuard(s.handleBulk))
	s.mux.HandleFunc("DELETE /v1/{entity}/{key}", s.recordGuard(s.handleDelete))
	s.mux.HandleFunc("GET /v1/{entity}/{key}", s.recordGuard(s.handleGet))
	s.mux.HandleFunc("GET /v1/{entity}", s.recordGuard(s.handleList))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /_sim/faults", s.handleGetFaults)
	s.mux.HandleFunc("POST /_sim/faults", s.handleSetFaults)
	s.mux.HandleFunc("PUT /_sim/faults", s.handleSetFaults)
	s.mux.HandleFunc("GET /_sim/state", s.handleState)
	s.mux.HandleFunc("GET /_sim/log", s.handleLog)
	s.mux.HandleFunc("POST /_sim/reset", s.handleReset)
	s.mux.HandleFunc("POST /_sim/seed", s.handleSeed)
	s.mux.HandleFunc("POST /_sim/drift", s.handleDrift)
	s.mux.HandleFunc("POST /_sim/change", s.handleChange)
	s.mux.HandleFunc("POST /_sim/changes", s.handleChanges)
	s.mux.HandleFunc("GET /_sim/crm/stats", s.handleCRMStats)
	s.mux.HandleFunc("GET /_sim/crm/records", s.handleCRMRecords)
	s.mux.HandleFunc("GET /_sim/crm/duplicates", s.handleCRMDuplicates)
	s.mux.HandleFunc("POST /_sim/crm/seed", s.handleCRMSeed)
	return s, nil
}

func (s *Server) resetLocked() {
	s.tokens = map[string]time.Time{}
	s.records = map[recordID]*record{}
	s.keys = map[string]*keyIndex{}
	s.idem = map[string]idemAnswer{}
	s.idemFIFO = nil
	s.log = nil
	s.inFlight = map[string]int{}
	s.stats = Stats{ByStatus: map[string]int64{}, ByRoute: map[string]int64{}, OverlapsByAccount: map[string]int64{}}
	s.crm.reset()
	if s.echo != nil {
		s.echo.reset()
	}
}

// Close stops the echo's senders (echoes not sent yet are dropped); the
// simulator keeps answering. It may be called more than once.
func (s *Server) Close() {
	if s.echo != nil {
		s.echo.close()
	}
}

// ServeHTTP serves the partner APIs and the /_sim control endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sim/") || r.URL.Path == "/healthz" {
		s.mux.ServeHTTP(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/crm/") {
		if s.opts.API == APIV1 {
			http.NotFound(w, r)
			return
		}
		s.crmMux.ServeHTTP(w, r)
		return
	}
	if s.opts.API == APICRM {
		http.NotFound(w, r)
		return
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	s.mux.ServeHTTP(sw, r)
	s.mu.Lock()
	s.stats.Requests++
	s.stats.ByStatus[strconv.Itoa(sw.status)]++
	route := r.Pattern
	if route == "" {
		route = "other"
	}
	s.stats.ByRoute[route]++
	s.mu.Unlock()
	s.opts.Logger.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.status)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// SetFaults replaces the faults in force.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
	return nil
}

// Faults returns the faults in force.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// outageGuard answers 503 while an outage is on.
func (s *Server) outageGuard(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Faults().Outage {
			writeJSON(w, http.StatusServiceUnavailable, errBody("outage", "the partner is down"))
			s.logRefused(r, http.StatusServiceUnavailable)
			return
		}
		h(w, r)
	}
}

// recordGuard adds the outage and the bearer-token check to a record endpoint.
func (s *Server) recordGuard(h http.HandlerFunc) http.HandlerFunc {
	return s.outageGuard(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, errBody("invalid_token", "missing, unknown or expired bearer token"))
			s.logRefused(r, http.StatusUnauthorized)
			return
		}
		h(w, r)
	})
}

func errBody(code, detail string) map[string]any {
	return map[string]any{"error": code, "detail": detail}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// logRefused logs a PUT or DELETE refused before it was read.
func (s *Server) logRefused(r *http.Request, status int) {
	if r.Method != http.MethodPut && r.Method != http.MethodDelete {
		return
	}
	now := s.opts.Now().UnixMicro()
	version, _ := strconv.ParseInt(r.URL.Query().Get("version"), 10, 64)
	s.logRequest(LogEntry{AtUS: now, DoneUS: now, Method: r.Method, Entity: r.PathValue("entity"), Key: r.PathValue("key"),
		Version: version, IdempotencyKey: r.Header.Get(IdempotencyHeader), Status: status})
}
