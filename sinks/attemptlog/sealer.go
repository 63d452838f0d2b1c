package attemptlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// CallsPerMinuteTable counts the rows of calls inserted per minute and
// partner (copies included: a SummingMergeTree whose sums only grow), kept
// by a materialized view over attempts with the calls view's filter. It is
// how the sealer and sql/latency_per_minute.sql tell that a minute the
// sealer answered has not changed since: its count is still the one the
// answer was stored with. ClickHouse 18.16 runs a table's views one after
// the other in the order of their names, so its view's name sorts after
// calls_mv: a count is raised only once the rows are in calls (the
// sealer's two-pass rule covers servers that order them otherwise).
const (
	CallsPerMinuteTable = "calls_per_minute"
	CallsPerMinuteView  = "calls_per_minute_mv"
)

// LatencyMinutesTable holds sql/latency_per_minute.sql's answer for whole
// minutes, one row per minute and partner, written by the Sealer (no view
// fills it): calls, quantiles (p50, p90, p99 of latency_us, µs) and max_us
// as the question computes them from calls, inserted (calls_per_minute's
// count for the minute when it was computed: counts only grow, so the
// highest is the latest answer) and sealed (Unix ms of the computation, for
// people). The question takes the window's minutes from here up to the
// first one whose count has changed since it was answered (SealedUntil),
// and from calls after it, so a row inserted into an answered minute — a
// spool replay, an analyst's load — counts at once.
const LatencyMinutesTable = "latency_minutes"

var callsPerMinute = Derived{
	Table: CallsPerMinuteTable,
	View:  CallsPerMinuteView,
	Body:  "(\n  minute DateTime('UTC'),\n  partner String,\n  rows UInt64\n) ENGINE = SummingMergeTree\nPARTITION BY toYYYYMMDD(minute)\nORDER BY (minute, partner)",
	Select: func(db, src, where string) string {
		cond := " WHERE attempt > 0 AND http_status > 0"
		if where != "" {
			cond = where + " AND attempt > 0 AND http_status > 0"
		}
		return fmt.Sprintf("SELECT toStartOfMinute(ts) AS minute, partner, count() AS rows\nFROM `%s`.`%s`%s\nGROUP BY minute, partner", db, src, cond)
	},
}

var latencyMinutes = Derived{
	Table: LatencyMinutesTable,
	Body:  "(\n  minute DateTime('UTC'),\n  partner String,\n  calls UInt64,\n  quantiles Array(Float64),\n  max_us UInt32,\n  inserted UInt64,\n  sealed UInt64\n) ENGINE = ReplacingMergeTree(inserted)\nPARTITION BY toYYYYMMDD(minute)\nORDER BY (minute, partner)",
}

// Defaults of SealerConfig.
const (
	DefaultSealEvery   = time.Minute
	DefaultSealBudget  = 20 * time.Second
	DefaultSealLockTTL = 2 * time.Minute
)

// SealerConfig configures a Sealer.
type SealerConfig struct {
	// Database holds the tables (the Distributed ones under
	// clickhouse.cluster).
	Database string
	// Every is how often Run makes a pass (1m); Budget how long a pass
	// computes minutes before it leaves the rest to the next (20s).
	Every, Budget time.Duration
	// LockKey is the lease that lets one process seal at a time
	// (layout.Keys.SealerLock of the first shard); LockTTL how long it
	// outlives a holder that stopped (2m). Instance names this process in
	// the lease's value.
	LockKey  string
	LockTTL  time.Duration
	Instance string
	// Now tells the time (time.Now); tests move a fake one.
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

func (c *SealerConfig) setDefaults() {
	if c.Every <= 0 {
		c.Every = DefaultSealEvery
	}
	if c.Budget <= 0 {
		c.Budget = DefaultSealBudget
	}
	if c.LockTTL <= 0 {
		c.LockTTL = DefaultSealLockTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Sealer stores sql/latency_per_minute.sql's answer for each whole minute
// whose rows have stopped changing (docs/operations.md, "Tables derived
// from the attempts"), so that the question reads a few rows a minute
// instead of every call of the window. A minute is answered when it ended
// over a minute ago and its count in calls_per_minute is the same as at this
// process's previous pass (so no insert was under way into it), newest
// first; one that changes later is answered again. One process seals at a
// time (a lease in Redis); two that did would store the same answer twice,
// which the question's argMax takes once.
type Sealer struct {
	cfg  SealerConfig
	rdb  redis.UniversalClient
	conn driver.Conn
	// seen is each minute's count at the previous pass.
	seen     map[minuteKey]uint64
	sealed   prometheus.Counter
	failures prometheus.Counter
}

type minuteKey struct {
	minute  time.Time
	partner string
}

// NewSealer builds a Sealer and registers its metrics (on a Registerer
// that has them already it panics, as MustRegister does); Run starts it.
// It closes neither rdb nor conn. A nil rdb seals without the lease (a tool
// alone on the tables, as make bench-chains). An error names a missing
// LockKey or a database name that is not an identifier.
func NewSealer(cfg SealerConfig, rdb redis.UniversalClient, conn driver.Conn) (*Sealer, error) {
	cfg.setDefaults()
	if cfg.LockKey == "" && rdb != nil {
		return nil, errors.New("attempt log sealer: lock key required")
	}
	if err := checkIdents(cfg.Database, []string{CallsPerMinuteTable, LatencyMinutesTable}); err != nil {
		return nil, err
	}
	s := &Sealer{cfg: cfg, rdb: rdb, conn: conn, seen: map[minuteKey]uint64{},
		sealed: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamsync_attempts_minutes_sealed_total",
			Help: "Minutes (per partner) whose latency_per_minute answer this process stored in latency_minutes."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamsync_attempts_seal_failures_total",
			Help: "Sealer passes that stopped on an error (ClickHouse or Redis); the next pass tries again."}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(s.sealed, s.failures)
	}
	return s, nil
}

// Run makes a pass every Every until ctx ends. A failed pass is logged and
// counted; the next one tries again.
func (s *Sealer) Run(ctx context.Context) {
	runPasses(ctx, s.cfg.Every, s.cfg.Every, func() {
		if _, err := s.Pass(ctx); err != nil && ctx.Err() == nil {
			s.failures.Inc()
			s.cfg.Logger.Warn("sealing the attempt log's minutes failed; latency_per_minute reads calls until the next pass", "every", s.cfg.Every, "err", err)
		}
	})
}

// Pass answers the minutes that are ready (see Sealer) and returns how many
// (minute, partner) answers it stored. Another process holding the lease
// makes it return 0 at once. Errors: Redis' for the lease, a lease lost
// mid-pass (another process took it over; it seals the rest), ClickHouse's
// for a read or a store, wrapped; answers stored before the error stay.
func (s *Sealer) Pass(ctx context.Context) (int, error) {
	renew := func() bool { return true }
	if s.rdb != nil {
		l, ok, err := takePassLease(ctx, s.rdb, s.cfg.LockKey, s.cfg.Instance, s.cfg.LockTTL, "attempt log sealer")
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, nil
		}
		defer func() { _, _ = l.Release(context.WithoutCancel(ctx)) }()
		renew = func() bool { ok, err := l.Renew(ctx); return err == nil && ok }
	}
	start := s.cfg.Now()
	counts, err := s.counts(ctx)
	if err != nil {
		return 0, err
	}
	stored, err := s.stored(ctx)
	if err != nil {
		return 0, err
	}
	// Ready: changed since it was answered (or never answered), and the
	// same count as at the previous pass.
	var ready []time.Time
	want := map[time.Time]map[string]uint64{}
	for k, n := range counts {
		if stored[k] == n || s.seen[k] != n {
			continue
		}
		if want[k.minute] == nil {
			want[k.minute] = map[string]uint64{}
			ready = append(ready, k.minute)
		}
		want[k.minute][k.partner] = n
	}
	s.seen = counts
	slices.SortFunc(ready, func(a, b time.Time) int { return b.Compare(a) }) // newest first
	n := 0
	for _, m := range ready {
		if s.cfg.Now().Sub(start) > s.cfg.Budget {
			break
		}
		if !renew() {
			return n, fmt.Errorf("attempt log sealer lease %s lost", s.cfg.LockKey)
		}
		k, err := s.seal(ctx, m, want[m])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// sealHorizon is how far back (SQL seconds) a pass looks: minutes older
// are not answered again when they change (the question reads them from
// calls from the first such minute on), so a pass reads a day's counts,
// not the retention's.
const sealHorizon = "86400"

// counts reads calls_per_minute's count per minute and partner, for the
// minutes of the last day that ended over a minute ago (by the server's
// clock).
func (s *Sealer) counts(ctx context.Context) (map[minuteKey]uint64, error) {
	q := "SELECT minute, partner, sum(rows) FROM `" + s.cfg.Database + "`.`" + CallsPerMinuteTable + "` WHERE minute >= now() - " + sealHorizon +
		" AND minute < toStartOfMinute(now()) - 60 GROUP BY minute, partner"
	return s.minuteCounts(ctx, q, "counts")
}

// stored reads the count each minute's latest answer was computed with.
func (s *Sealer) stored(ctx context.Context) (map[minuteKey]uint64, error) {
	q := "SELECT minute, partner, max(inserted) FROM `" + s.cfg.Database + "`.`" + LatencyMinutesTable + "` WHERE minute >= now() - " + sealHorizon +
		" GROUP BY minute, partner"
	return s.minuteCounts(ctx, q, "answers")
}

func (s *Sealer) minuteCounts(ctx context.Context, q, what string) (map[minuteKey]uint64, error) {
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("attempt log sealer: %s: %w", what, err)
	}
	defer rows.Close()
	out := map[minuteKey]uint64{}
	for rows.Next() {
		var k minuteKey
		var n uint64
		if err := rows.Scan(&k.minute, &k.partner, &n); err != nil {
			return nil, fmt.Errorf("attempt log sealer: %s: %w", what, err)
		}
		out[minuteKey{k.minute.UTC(), k.partner}] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("attempt log sealer: %s: %w", what, err)
	}
	return out, nil
}

// seal computes minute m's answer from calls (as the question does) and
// stores it for the partners of want, each with its count.
func (s *Sealer) seal(ctx context.Context, m time.Time, want map[string]uint64) (int, error) {
	q := "SELECT partner, count(), quantiles(0.5, 0.9, 0.99)(latency_us), max(latency_us) FROM `" + s.cfg.Database + "`.`" + CallsTable +
		"` FINAL WHERE ts >= ? AND ts < ? GROUP BY partner"
	rows, err := s.conn.Query(ctx, q, m, m.Add(time.Minute))
	if err != nil {
		return 0, fmt.Errorf("attempt log sealer: minute %s: %w", m.Format(time.DateTime), err)
	}
	type answer struct {
		partner   string
		calls     uint64
		quantiles []float64
		max       uint32
	}
	var got []answer
	for rows.Next() {
		var a answer
		if err := rows.Scan(&a.partner, &a.calls, &a.quantiles, &a.max); err != nil {
			rows.Close()
			return 0, fmt.Errorf("attempt log sealer: minute %s: %w", m.Format(time.DateTime), err)
		}
		if _, ok := want[a.partner]; ok {
			got = append(got, a)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("attempt log sealer: minute %s: %w", m.Format(time.DateTime), err)
	}
	if len(got) == 0 {
		return 0, nil
	}
	// Under clickhouse.cluster the insert reaches a shard before it
	// returns, so the next pass sees what this one stored.
	ictx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	batch, err := s.conn.PrepareBatch(ictx, "INSERT INTO `"+s.cfg.Database+"`.`"+LatencyMinutesTable+"` (minute, partner, calls, quantiles, max_us, inserted, sealed)")
	if err != nil {
		return 0, fmt.Errorf("attempt log sealer: minute %s: %w", m.Format(time.DateTime), err)
	}
	at := uint64(s.cfg.Now().UnixMilli())
	for _, a := range got {
		if err := batch.Append(m, a.partner, a.calls, a.quantiles, a.max, want[a.partner], at); err != nil {
			_ = batch.Abort()
			return 0, fmt.Errorf("attempt log sealer: minute %s: %w", m.Format(time.DateTime), err)
		}
	}
	if err := batch.Send(); err != nil {
		return 0, fmt.Errorf("attempt log sealer: minute %s: %w", m.Format(time.DateTime), err)
	}
	s.sealed.Add(float64(len(got)))
	return len(got), nil
}
