package ingest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/httpserve"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/webhook"
)

// Config configures the Server.
type Config struct {
	Addr   string // host:port
	Stream string // the events stream
	// Route names the events stream of an account's shard (docs/scaling.md;
	// layout.Shards.Stream); nil appends every event to Stream.
	Route func(account string) string
	// MaxBodyBytes bounds a request body (16 MiB); more is answered 413.
	MaxBodyBytes int64
	// MaxEvents bounds the events of one request, and the ids of one
	// confirm or cancel (ingest.max_events, 10,000); more is answered 413
	// and nothing is appended.
	MaxEvents int
	Limits    event.Limits
	// Producers may write (ingest.tokens): every request must carry one's
	// token as "Authorization: Bearer <token>", else it is answered 401.
	// With none the ingest is open, and Start refuses an address that is
	// not loopback (docs/security.md).
	Producers []Producer
	// PartnerNames are the partners' names (sink.partner_name): origins a
	// producer may not send, like reconcile and backfill.
	PartnerNames []string
	// Replicas is redis.wait_replicas and redis.wait_timeout: a 202 (and a
	// confirm's 200) only once that many replicas have the events, 503
	// otherwise (docs/reliability.md, "Waiting for replicas").
	Replicas Replicas
	// HTTP bounds the server's connections and their timeouts; zero fields
	// take httpserve's defaults.
	HTTP httpserve.Limits
	// Registerer takes the ingest's metrics; nil: not registered.
	Registerer prometheus.Registerer
	// Now stamps ts on events that come without one, and times prepared
	// events' check-backs (time.Now).
	Now    func() time.Time
	Logger *slog.Logger

	// Prepared events (docs/producers.md), on when Keys.Prepared is set: Keys
	// names where they wait and where confirmed, dead and attempt-log rows
	// go (Keys.Events must be Stream).
	Keys layout.Keys
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

	// Webhooks, when it names partners, serves their webhooks at
	// POST /v1/partners/{name}/webhooks (docs/partners.md, "Webhooks from a
	// partner"). They prove themselves by their signature, not by a
	// producer's token; the server's bounds (timeouts, connections) hold
	// for them too. Its Registerer, Now and Logger default to the ingest's.
	Webhooks webhook.Config
}

func (c *Config) setDefaults() {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 16 << 20
	}
	if c.MaxEvents <= 0 {
		c.MaxEvents = DefaultMaxEvents
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

// DefaultMaxEvents is how many events one request may carry by default.
const DefaultMaxEvents = 10000

// Server is the ingest HTTP server.
type Server struct {
	cfg       Config
	producers producers
	metrics   *metrics
	rdb       redis.UniversalClient
	http      *httpserve.Server
	mux       *http.ServeMux
	prepared  *Prepared // nil when prepared events are off
	checker   *checker
	stop      context.CancelFunc
	stopped   chan struct{}
}

// New builds a Server; it does not close rdb.
func New(cfg Config, rdb redis.UniversalClient) (*Server, error) {
	cfg.setDefaults()
	if cfg.Stream == "" && cfg.Route == nil {
		return nil, errors.New("ingest: stream or route required")
	}
	ps, err := newProducers(cfg.Producers)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, producers: ps, metrics: newMetrics(cfg.Registerer), rdb: rdb, mux: http.NewServeMux()}
	s.mux.HandleFunc("POST /v1/events", s.handleEvents)
	if cfg.Keys.Prepared != "" {
		if cfg.Keys.Events != cfg.Stream {
			return nil, errors.New("ingest: keys.events must be the stream")
		}
		s.prepared = &Prepared{rdb: rdb, keys: cfg.Keys, timeout: cfg.PrepareTimeout, instance: cfg.Instance, rows: cfg.AttemptLog, replicas: cfg.Replicas}
		s.checker = &checker{store: s.prepared, url: cfg.CheckURL, maxAttempts: cfg.CheckMaxAttempts, initial: cfg.CheckInitial,
			max: cfg.CheckMax, client: checkClient(cfg.CheckTimeout), now: cfg.Now, log: cfg.Logger}
		s.mux.HandleFunc("POST /v1/events/confirm", s.handleRelease(ActionConfirm, "confirmed"))
		s.mux.HandleFunc("POST /v1/events/cancel", s.handleRelease(ActionCancel, "cancelled"))
	}
	handler, err := s.withWebhooks(s.authenticate(s.mux))
	if err != nil {
		return nil, err
	}
	hc := httpserve.Config{Setting: "ingest.addr", Addr: cfg.Addr, Handler: handler, Logger: cfg.Logger, Limits: cfg.HTTP}
	if ps.open() {
		hc.LoopbackOnly = "ingest.tokens"
	}
	s.http = httpserve.NewServer(hc)
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
