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
	// Now stamps ts on events that come without one (time.Now).
	Now    func() time.Time
	Logger *slog.Logger
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
}

// Server is the ingest HTTP server.
type Server struct {
	cfg  Config
	rdb  redis.UniversalClient
	http *httpserve.Server
	mux  *http.ServeMux
}

// New builds a Server; it does not close rdb.
func New(cfg Config, rdb redis.UniversalClient) (*Server, error) {
	cfg.setDefaults()
	if cfg.Stream == "" && cfg.Route == nil {
		return nil, errors.New("ingest: stream or route required")
	}
	s := &Server{cfg: cfg, rdb: rdb, mux: http.NewServeMux()}
	s.mux.HandleFunc("POST /v1/events", s.handleEvents)
	s.http = httpserve.New("ingest.addr", cfg.Addr, s.mux, cfg.Logger)
	return s, nil
}

// Start listens and serves in the background.
func (s *Server) Start() error { return s.http.Start() }

// Addr is where the server listens, once started.
func (s *Server) Addr() string { return s.http.Addr() }

// Close stops taking requests and lets the accepted ones finish, until ctx
// ends. Safe to call more than once.
func (s *Server) Close(ctx context.Context) error { return s.http.Close(ctx) }

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
	events := make([]event.Event, 0, len(items))
	var rejected []Rejected
	now := s.cfg.Now().UnixMilli()
	for i, it := range items {
		e, err := event.FromJSON(it, s.cfg.Limits)
		if err != nil {
			rejected = append(rejected, Rejected{Index: i, ID: e.ID, Reason: err.Error()})
			continue
		}
		if e.TS == 0 {
			e.TS = now // for end-to-end latency: when the event reached us
		}
		events = append(events, e)
	}
	if len(rejected) > 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": rejected})
		return
	}
	if err := s.appendEvents(r.Context(), events); err != nil {
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

// appendEvents appends the events to their streams: per stream one atomic
// pipelined call, all of that stream's events or none of them (a single
// event needs no MULTI). With shards a batch may span several streams,
// which on a Redis Cluster live in different slots and cannot share one
// MULTI: should one stream's call fail, the client resends the batch and
// the copies already appended are skipped as duplicates (contract §1: a
// repeated id is stale).
func (s *Server) appendEvents(ctx context.Context, events []event.Event) error {
	var order []string
	byStream := map[string][]event.Event{}
	for _, e := range events {
		st := s.stream(e.Account)
		if _, seen := byStream[st]; !seen {
			order = append(order, st)
		}
		byStream[st] = append(byStream[st], e)
	}
	for _, st := range order {
		batch := byStream[st]
		pipe := s.rdb.TxPipeline()
		if len(batch) == 1 {
			pipe = s.rdb.Pipeline()
		}
		for _, e := range batch {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: st, Values: e.Fields()})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("append to %s: %w", st, err)
		}
	}
	return nil
}
