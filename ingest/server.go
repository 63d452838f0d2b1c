package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/httpserve"
	"github.com/streamsync/streamsync/pipeline"
)

// Config configures the Server.
type Config struct {
	Addr   string // host:port
	Stream string // the events stream
	// Route names the events stream of an account's shard (contract §9;
	// pipeline.Shards.Stream); nil appends every event to Stream.
	Route func(account string) string
	// MaxBodyBytes bounds a request body (16 MiB); more is answered 413.
	MaxBodyBytes int64
	Limits       event.Limits
	// Now stamps ts on events that come without one, and times prepared
	// events' check-backs (time.Now).
	Now    func() time.Time
	Logger *slog.Logger

	// Prepared events (contract §8), on when Keys.Prepared is set: Keys
	// names where they wait and where confirmed, dead and attempt-log rows
	// go (Keys.Events must be Stream).
	Keys pipeline.Keys
	// PrepareTimeout is how long a prepared event waits for confirm or
	// cancel before it is checked back (30s).
	PrepareTimeout time.Duration
	// CheckURL is asked GET ?id=<event id>; empty: an event due for a
	// check-back is dead-lettered unconfirmed at once.
	CheckURL string
	// CheckMaxAttempts unsettled check-backs dead-letter an event
	// unconfirmed (10).
	CheckMaxAttempts int
	// CheckInitial and CheckMax shape the backoff between check-backs:
	// CheckInitial doubling up to CheckMax (1s, 1m).
	CheckInitial, CheckMax time.Duration
	// CheckEvery is how often due check-backs are looked for (1s); each
	// call times out after CheckTimeout (5s).
	CheckEvery, CheckTimeout time.Duration
	// Instance and AttemptLog: the attempt log's instance column; rows on.
	Instance   string
	AttemptLog bool
}

func (c *Config) setDefaults() {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 16 << 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.PrepareTimeout <= 0 {
		c.PrepareTimeout = 30 * time.Second
	}
	if c.CheckMaxAttempts <= 0 {
		c.CheckMaxAttempts = 10
	}
	if c.CheckInitial <= 0 {
		c.CheckInitial = time.Second
	}
	if c.CheckMax < c.CheckInitial {
		c.CheckMax = max(time.Minute, c.CheckInitial)
	}
	if c.CheckEvery <= 0 {
		c.CheckEvery = time.Second
	}
	if c.CheckTimeout <= 0 {
		c.CheckTimeout = 5 * time.Second
	}
}

// Server is the ingest HTTP server.
type Server struct {
	cfg      Config
	rdb      redis.UniversalClient
	http     *httpserve.Server
	mux      *http.ServeMux
	prepared *Prepared // nil when prepared events are off
	checker  *checker
	stop     context.CancelFunc
	stopped  chan struct{}
}

// New builds a Server; it does not close rdb.
func New(cfg Config, rdb redis.UniversalClient) (*Server, error) {
	cfg.setDefaults()
	if cfg.Stream == "" && cfg.Route == nil {
		return nil, errors.New("ingest: stream or route required")
	}
	s := &Server{cfg: cfg, rdb: rdb, mux: http.NewServeMux()}
	s.mux.HandleFunc("POST /v1/events", s.handleEvents)
	if cfg.Keys.Prepared != "" {
		if cfg.Keys.Events != cfg.Stream {
			return nil, errors.New("ingest: keys.events must be the stream")
		}
		s.prepared = &Prepared{rdb: rdb, keys: cfg.Keys, timeout: cfg.PrepareTimeout, instance: cfg.Instance, rows: cfg.AttemptLog}
		s.checker = &checker{store: s.prepared, url: cfg.CheckURL, maxAttempts: cfg.CheckMaxAttempts, initial: cfg.CheckInitial,
			max: cfg.CheckMax, client: checkClient(cfg.CheckTimeout), now: cfg.Now, log: cfg.Logger}
		s.mux.HandleFunc("POST /v1/events/confirm", s.handleRelease(ActionConfirm, "confirmed"))
		s.mux.HandleFunc("POST /v1/events/cancel", s.handleRelease(ActionCancel, "cancelled"))
	}
	s.http = httpserve.New("ingest.addr", cfg.Addr, s.mux, cfg.Logger)
	return s, nil
}

// Start listens and serves in the background, and checks back prepared
// events that are due.
func (s *Server) Start() error {
	if err := s.http.Start(); err != nil {
		return err
	}
	if s.checker != nil && s.stop == nil {
		ctx, cancel := context.WithCancel(context.Background())
		s.stop, s.stopped = cancel, make(chan struct{})
		go func() { defer close(s.stopped); s.checker.run(ctx, s.cfg.CheckEvery) }()
	}
	return nil
}

// Addr is where the server listens, once started.
func (s *Server) Addr() string { return s.http.Addr() }

// Close stops taking requests and lets the accepted ones finish, until ctx
// ends. Safe to call more than once.
func (s *Server) Close(ctx context.Context) error {
	err := s.http.Close(ctx)
	if s.stop != nil {
		s.stop()
		<-s.stopped
	}
	return err
}

// Rejected is one event a request could not take.
type Rejected struct {
	Index  int    `json:"index"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"errors": []Rejected{{Index: -1, Reason: fmt.Sprintf("body over %d bytes (ingest.max_body_bytes)", s.cfg.MaxBodyBytes)}}})
			return
		}
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []Rejected{{Index: -1, Reason: "reading the body: " + err.Error()}}})
		return
	}
	items, err := event.SplitJSON(body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []Rejected{{Index: -1, Reason: err.Error()}}})
		return
	}
	if len(items) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []Rejected{{Index: -1, Reason: "no events in the body"}}})
		return
	}
	now := s.cfg.Now()
	events, rejected := Parse(items, s.cfg.Limits, now)
	if len(rejected) > 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": rejected})
		return
	}
	if r.URL.Query().Get("prepare") == "1" {
		if s.prepared == nil {
			writeJSON(w, http.StatusNotFound, map[string]any{"errors": []Rejected{{Index: -1, Reason: "prepared events are off"}}})
			return
		}
		if err := s.prepared.Prepare(r.Context(), events, now); err != nil {
			s.cfg.Logger.Error("ingest: prepare failed", "count", len(events), "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"errors": []Rejected{{Index: -1, Reason: "events not prepared: " + err.Error()}}})
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]int{"prepared": len(events)})
		return
	}
	if err := AppendRouted(r.Context(), s.rdb, s.stream, events); err != nil {
		s.cfg.Logger.Error("ingest: append failed", "count", len(events), "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"errors": []Rejected{{Index: -1, Reason: "events not appended: " + err.Error()}}})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"accepted": len(events)})
}

var writeJSON = httpserve.WriteJSON

// stream is where an account's events go.
func (s *Server) stream(account string) string {
	if s.cfg.Route != nil {
		return s.cfg.Route(account)
	}
	return s.cfg.Stream
}
