package attemptlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Defaults of RetentionConfig.
const (
	DefaultRetention      = 30 * 24 * time.Hour
	DefaultRetentionEvery = time.Hour
	// DefaultRetentionFirst is how long after Run starts its first pass
	// comes: after the exporters have made the table, and soon enough that
	// a process restarted more often than hourly still drops.
	DefaultRetentionFirst   = time.Minute
	DefaultRetentionLockTTL = 5 * time.Minute
)

// RetentionConfig configures a Retainer.
type RetentionConfig struct {
	// Database holds the tables.
	Database string
	// Tables lose their old days together (DropOldPartitions): the
	// attempts table and the tables derived from it, each partitioned by
	// toYYYYMMDD of a UTC DateTime (default: Table and DerivedTables).
	Tables []string
	// Retention is clickhouse.retention: a day entirely older than now −
	// Retention is dropped. 0 keeps every row (Run returns at once);
	// otherwise at least MinRetention.
	Retention time.Duration
	// Every is how often Run makes a pass (1h); First when the first comes
	// after Run starts (1m).
	Every time.Duration
	First time.Duration
	// LockKey is the lease that lets one process drop at a time
	// (layout.Keys.RetentionLock of the first shard); LockTTL how long it
	// outlives a holder that stopped (5m), renewed after every drop.
	LockKey string
	LockTTL time.Duration
	// Cluster, when enabled, is clickhouse.cluster: each table's days are
	// dropped from its local table (<table>_local) on every server of the
	// cluster (docs/operations.md, "Growing past one ClickHouse").
	Cluster Cluster
	// Instance names this process in the lease's value.
	Instance string
	// Now tells the time (time.Now); tests move a fake one.
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

func (c *RetentionConfig) setDefaults() {
	if len(c.Tables) == 0 {
		c.Tables = append([]string{Table}, DerivedNames()...)
	}
	if c.Every <= 0 {
		c.Every = DefaultRetentionEvery
	}
	if c.First <= 0 {
		c.First = DefaultRetentionFirst
	}
	if c.LockTTL <= 0 {
		c.LockTTL = DefaultRetentionLockTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports what a Retainer cannot run with.
func (c RetentionConfig) Validate() error {
	switch {
	case c.Retention != 0 && c.Retention < MinRetention:
		return fmt.Errorf("clickhouse.retention: must be 0 (keep every row) or at least 1d, is %s", c.Retention)
	case c.LockKey == "":
		return errors.New("attempt log retention: lock key required")
	}
	return checkIdents(c.Database, c.Tables)
}

// Retainer drops the attempt log's days older than the retention, every
// Every, one process at a time across processes (a lease in Redis).
type Retainer struct {
	cfg  RetentionConfig
	rdb  redis.UniversalClient
	conn driver.Conn
	m    *retentionMetrics
}

// NewRetainer builds a Retainer and registers its metrics; Run starts it.
// It closes neither rdb nor conn.
func NewRetainer(cfg RetentionConfig, rdb redis.UniversalClient, conn driver.Conn) (*Retainer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Retainer{cfg: cfg, rdb: rdb, conn: conn, m: newRetentionMetrics(cfg.Registerer, cfg.Retention)}, nil
}

// Enabled reports whether old days are dropped (a retention other than 0).
func (r *Retainer) Enabled() bool { return r.cfg.Retention > 0 }

// Run makes a pass First after it starts and then every Every, until ctx
// ends; with retention 0 it returns at once. A failed pass is logged and
// counted; the next one tries again.
func (r *Retainer) Run(ctx context.Context) {
	if !r.Enabled() {
		return
	}
	runPasses(ctx, r.cfg.First, r.cfg.Every, func() {
		if _, err := r.Pass(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Logger.Error("dropping the attempt log's old days failed; trying again at the next pass", "every", r.cfg.Every, "err", err)
		}
	})
}

// ErrRetentionLeaseLost ends a pass whose lease another process took over
// (this one stalled past LockTTL); that process drops the rest.
var ErrRetentionLeaseLost = errors.New("attempt log retention lease lost")

// Pass drops every partition of the tables whose whole day is older than
// now − Retention, and returns the partitions dropped. Another process
// holding the lease makes it return 0 at once; so does retention 0.
func (r *Retainer) Pass(ctx context.Context) (int, error) {
	if !r.Enabled() {
		return 0, nil
	}
	n, err := r.pass(ctx)
	if err != nil {
		r.m.failures.Inc()
	}
	return n, err
}

func (r *Retainer) pass(ctx context.Context) (int, error) {
	l, ok, err := takePassLease(ctx, r.rdb, r.cfg.LockKey, r.cfg.Instance, r.cfg.LockTTL, "attempt log retention")
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, nil
	}
	defer func() { _, _ = l.Release(context.WithoutCancel(ctx)) }()
	cutoff := r.cfg.Now().Add(-r.cfg.Retention)
	n := 0
	drop := func(conn driver.Conn, host string, tables []string) error {
		old, err := OldPartitions(ctx, conn, r.cfg.Database, tables, cutoff)
		if err != nil {
			return err
		}
		for _, p := range old {
			if ok, err := l.Renew(ctx); err != nil || !ok {
				return ErrRetentionLeaseLost
			}
			if err := DropPartition(ctx, conn, r.cfg.Database, p); err != nil {
				return err
			}
			n++
			table := p.Table
			if host != "" { // a shard's local table, counted under the name the questions read
				table = strings.TrimSuffix(table, LocalSuffix)
			}
			r.m.dropped.WithLabelValues(table).Inc()
			attrs := []any{"table", p.Table, "day", p.Day.Format(time.DateOnly), "retention", r.cfg.Retention}
			if host != "" {
				attrs = append(attrs, "server", host)
			}
			r.cfg.Logger.Info("attempt log: a day older than clickhouse.retention dropped", attrs...)
		}
		return nil
	}
	if !r.cfg.Cluster.Enabled() {
		err = drop(r.conn, "", r.cfg.Tables)
	} else {
		local := make([]string, len(r.cfg.Tables))
		for i, t := range r.cfg.Tables {
			local[i] = t + LocalSuffix
		}
		err = forEachHost(ctx, r.conn, r.cfg.Cluster, func(host string, hc driver.Conn) error { return drop(hc, host, local) })
	}
	if err != nil {
		if errors.Is(err, ErrRetentionLeaseLost) {
			return n, ErrRetentionLeaseLost
		}
		return n, err
	}
	r.m.lastSuccess.Set(float64(r.cfg.Now().Unix()))
	return n, nil
}
