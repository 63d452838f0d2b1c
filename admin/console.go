package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// Defaults of ConsoleConfig.
const (
	DefaultSampleEvery = 5 * time.Second
	DefaultWindow      = 15 * time.Minute
)

// ConsoleConfig configures the JSON endpoints behind the operators' console.
type ConsoleConfig struct {
	// SampleEvery is how often the step counters are read for the chart (5s).
	SampleEvery time.Duration
	// Window is how much history the chart keeps (15m).
	Window time.Duration
	// Now is the clock; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
}

func (c *ConsoleConfig) setDefaults() {
	if c.SampleEvery <= 0 {
		c.SampleEvery = DefaultSampleEvery
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a window too short for two samples.
func (c ConsoleConfig) Validate() error {
	if c.Window < 2*c.SampleEvery {
		return errors.New("admin console: window must hold at least two samples")
	}
	return nil
}

// StatusReader reads the pipeline's counters; inspect.Inspector implements it.
type StatusReader interface {
	Status(ctx context.Context) (inspect.Status, error)
}

// TimelineFinder finds chains with every step; attemptlog.ChainSource implements it.
type TimelineFinder interface {
	Timeline(ctx context.Context, q attemptlog.TimelineQuery) ([]attemptlog.Chain, bool, error)
}

// ExportLag is how far the attempt log in ClickHouse is behind.
type ExportLag struct {
	// BacklogRows are rows written but not yet in ClickHouse.
	BacklogRows int64 `json:"backlog_rows"`
	// Seconds is the age of the oldest of them; 0 when there are none.
	Seconds float64 `json:"seconds"`
}

// ExportLagFunc measures the export lag.
type ExportLagFunc func(ctx context.Context) (ExportLag, error)

// Console keeps the live chart's samples and serves the console's own JSON
// endpoints: GET /api/v1/series and GET /api/v1/chain.
type Console struct {
	cfg      ConsoleConfig
	status   StatusReader
	timeline TimelineFinder
	lag      ExportLagFunc

	mu      sync.Mutex
	samples []sample // oldest first, at most Window/SampleEvery+1
}

type sample struct {
	at              time.Time
	delivered, dead int64
}

// NewConsole builds the console's endpoints; timeline and lag may be nil
// when the attempt log is off.
func NewConsole(cfg ConsoleConfig, status StatusReader, timeline TimelineFinder, lag ExportLagFunc) (*Console, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if status == nil {
		return nil, errors.New("admin console: status reader required")
	}
	return &Console{cfg: cfg, status: status, timeline: timeline, lag: lag}, nil
}

// Sample reads the step counters once and keeps them for the chart.
func (c *Console) Sample(ctx context.Context) error {
	s, err := c.status.Status(ctx)
	if err != nil {
		return err
	}
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.samples = append(c.samples, sample{at: now, delivered: s.Steps["delivered"], dead: s.Steps["dead"] + s.Steps["invalid"]})
	cut := 0
	for cut < len(c.samples) && now.Sub(c.samples[cut].at) > c.cfg.Window+c.cfg.SampleEvery {
		cut++
	}
	c.samples = c.samples[cut:]
	return nil
}

// Run samples every SampleEvery until ctx ends.
func (c *Console) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.SampleEvery)
	defer t.Stop()
	for {
		if err := c.Sample(ctx); err != nil && ctx.Err() == nil {
			c.cfg.Logger.Debug("console sample", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Point is one interval of the chart: events per second over the interval
// that ends at T (unix ms).
type Point struct {
	T         int64   `json:"t"`
	Delivered float64 `json:"delivered"`
	Dead      float64 `json:"dead"`
}

// Series is the chart's data.
type Series struct {
	StepSeconds   float64    `json:"step_seconds"`
	WindowSeconds float64    `json:"window_seconds"`
	Points        []Point    `json:"points"`
	Export        *ExportLag `json:"export"` // null when the attempt log is off or unreadable
}

// Series turns the kept samples into per-second rates; a counter that went
// down (its hash was reset) gives 0 for that interval.
func (c *Console) Series() Series {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := Series{StepSeconds: c.cfg.SampleEvery.Seconds(), WindowSeconds: c.cfg.Window.Seconds(), Points: []Point{}}
	rate := func(a, b int64, secs float64) float64 {
		if b < a || secs <= 0 {
			return 0
		}
		return float64(b-a) / secs
	}
	for i := 1; i < len(c.samples); i++ {
		a, b := c.samples[i-1], c.samples[i]
		secs := b.at.Sub(a.at).Seconds()
		out.Points = append(out.Points, Point{T: b.at.UnixMilli(), Delivered: rate(a.delivered, b.delivered, secs), Dead: rate(a.dead, b.dead, secs)})
	}
	return out
}

func (c *Console) handleSeries(w http.ResponseWriter, r *http.Request) {
	s := c.Series()
	if c.lag != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if l, err := c.lag(ctx); err == nil {
			s.Export = &l
		}
	}
	writeJSON(w, http.StatusOK, s)
}

// handleChain answers GET /api/v1/chain?event_id=E | record=ENTITY/KEY |
// account=A [&partner=NAME] [&since=24h, at most MaxSince] [&limit=20] with
// {"chains":[…],"truncated":bool}, each with every step.
func (c *Console) handleChain(w http.ResponseWriter, r *http.Request) {
	if c.timeline == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the attempt log is off (clickhouse.addr is empty)"})
		return
	}
	qs := r.URL.Query()
	since, err := sinceParam(qs.Get("since"), 7*24*time.Hour)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "since: " + err.Error()})
		return
	}
	q := attemptlog.TimelineQuery{EventID: strings.TrimSpace(qs.Get("event_id")), Account: strings.TrimSpace(qs.Get("account")),
		Since: c.cfg.Now().Add(-since)}
	if rec := strings.TrimSpace(qs.Get("record")); rec != "" {
		entity, key, ok := strings.Cut(rec, "/")
		if !ok || entity == "" || key == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "record: want entity/key, e.g. sub_registration/r-42"})
			return
		}
		q.Entity, q.Key = entity, key
	}
	if q.Partner, err = partnerParam(qs.Get("partner")); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if v := qs.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be 1 to 200"})
			return
		}
		q.Limit = n
	}
	chains, truncated, err := c.timeline.Timeline(r.Context(), q)
	if errors.Is(err, attemptlog.ErrNoQuery) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	}
	if chains == nil {
		chains = []attemptlog.Chain{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"chains": chains, "truncated": truncated})
}
