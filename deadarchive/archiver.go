package deadarchive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/lease"
	"github.com/streamsync/streamsync/pipeline"
)

// Defaults of Config.
const (
	DefaultEvery   = 5 * time.Minute
	DefaultLockTTL = 2 * time.Minute
	// MaxBatch is the most dead letters one read, insert and trim move.
	MaxBatch = 1000
	// DefaultBatchBytes bounds the fields of one batch (16 MiB): a dead
	// letter may be as large as event.max_bytes.
	DefaultBatchBytes = 16 << 20
	// readPage is how many entries one XRANGE reads.
	readPage = 50
)

// Config configures an Archiver.
type Config struct {
	// Shards are the key sets of every shard; each shard's dead-letter
	// stream is archived.
	Shards layout.Shards
	// MaxAge is dead.max_age: a dead letter appended to its stream longer
	// ago than this (the time in its entry id) is archived, then trimmed.
	MaxAge time.Duration
	// Every is how often Run makes a pass (5m).
	Every time.Duration
	// Batch is how many dead letters one insert takes (MaxBatch, at most
	// MaxBatch); BatchBytes how many bytes of fields, about: a batch ends
	// with the read that reaches it (DefaultBatchBytes).
	Batch      int
	BatchBytes int
	// LockKey is the lease that lets one process archive at a time
	// (layout.Keys.DeadArchiveLock of the first shard); LockTTL how long
	// it outlives a holder that stopped (2m: an insert may take 1m),
	// renewed after every batch.
	LockKey string
	LockTTL time.Duration
	// Instance names this process in the archive (column instance).
	Instance string
	// Store receives the dead letters; nil turns archiving off: nothing is
	// trimmed, and a pass only warns (at most once an hour) while dead
	// letters older than MaxAge stay in Redis.
	Store      Store
	Clock      pipeline.Clock
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

func (c *Config) setDefaults() {
	if c.Every <= 0 {
		c.Every = DefaultEvery
	}
	if c.Batch <= 0 || c.Batch > MaxBatch {
		c.Batch = MaxBatch
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.LockTTL <= 0 {
		c.LockTTL = DefaultLockTTL
	}
	if c.Clock == nil {
		c.Clock = pipeline.WallClock
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports what an archiver cannot run without.
func (c Config) Validate() error {
	switch {
	case len(c.Shards) == 0:
		return errors.New("dead archive: shards required")
	case c.MaxAge <= 0:
		return errors.New("dead.max_age: must be more than 0")
	case c.LockKey == "":
		return errors.New("dead archive: lock key required")
	}
	for i, k := range c.Shards {
		if k.Dead == "" {
			return fmt.Errorf("dead archive: shard %d has no dead-letter stream", i)
		}
	}
	return nil
}

// Archiver moves dead letters older than MaxAge from the dead-letter
// streams to the Store, batch by batch: a batch is read, stored, and only
// then deleted from Redis by its exact ids, so a failed store removes
// nothing and a crash in between stores the batch again (the Store does not
// duplicate it). One process archives at a time (a lease).
type Archiver struct {
	cfg      Config
	rdb      redis.UniversalClient
	m        *metrics
	lastWarn time.Time
}

// New builds an Archiver and registers its metrics; Run starts it. It does
// not close rdb.
func New(cfg Config, rdb redis.UniversalClient) (*Archiver, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Archiver{cfg: cfg, rdb: rdb}
	a.m = newMetrics(cfg.Registerer, a.oldestAge, cfg.Store != nil)
	return a, nil
}

// Enabled reports whether dead letters are archived and trimmed (a Store).
func (a *Archiver) Enabled() bool { return a.cfg.Store != nil }

// Run makes a pass at once and then every Every, until ctx ends.
func (a *Archiver) Run(ctx context.Context) {
	t := time.NewTicker(a.cfg.Every)
	defer t.Stop()
	for {
		if _, err := a.Pass(ctx); err != nil && ctx.Err() == nil {
			a.cfg.Logger.Error("archiving old dead letters failed; none of them was removed, trying again", "every", a.cfg.Every, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ErrLeaseLost ends a pass whose lease another process took over (this one
// stalled past LockTTL); what it archived is trimmed, the rest is left to
// the holder.
var ErrLeaseLost = errors.New("dead archive lease lost")

// Pass archives and trims every dead letter older than MaxAge, shard by
// shard, and returns how many it removed from Redis. Another process holding
// the lease makes it return 0 at once. On an error nothing that was not
// archived has been removed.
func (a *Archiver) Pass(ctx context.Context) (int, error) {
	if a.cfg.Store == nil {
		a.warnOff(ctx)
		return 0, nil
	}
	l, ok, err := takeLease(ctx, a.rdb, a.cfg.LockKey, a.cfg.Instance, a.cfg.LockTTL)
	if err != nil || !ok {
		return 0, err
	}
	defer release(ctx, l)
	total := 0
	for i := range a.cfg.Shards {
		n, err := a.shard(ctx, l, i)
		total += n
		if err != nil {
			a.m.failures.Inc()
			return total, err
		}
	}
	return total, nil
}

// shard archives one shard's old dead letters, a batch at a time.
func (a *Archiver) shard(ctx context.Context, l lease.Lease, i int) (int, error) {
	k := a.cfg.Shards[i]
	cutoff := a.cfg.Clock.Now().Add(-a.cfg.MaxAge).UnixMilli() // entries appended before it are old
	if cutoff <= 0 {
		return 0, nil
	}
	end := strconv.FormatInt(cutoff-1, 10) // "ms" as an end: every sequence of that ms
	start, total := "-", 0
	for {
		entries, more, err := a.read(ctx, k.Dead, start, end)
		if err != nil || len(entries) == 0 {
			return total, err
		}
		now := a.cfg.Clock.Now().UTC()
		letters := make([]Letter, len(entries))
		for j, e := range entries {
			letters[j] = letterOf(k.Dead, i, e)
			letters[j].ArchivedAt, letters[j].Instance = now, a.cfg.Instance
		}
		if err := a.cfg.Store.Archive(ctx, letters); err != nil {
			return total, fmt.Errorf("archive %d dead letters of %s (%s … %s): %w", len(letters), k.Dead, entries[0].id, entries[len(entries)-1].id, err)
		}
		n, err := trim(ctx, a.rdb, k, letters)
		total += n
		a.m.archived.Add(float64(n))
		if err != nil {
			return total, fmt.Errorf("archived %d dead letters of %s, not all trimmed (they will be archived again): %w", len(letters), k.Dead, err)
		}
		a.cfg.Logger.Info("old dead letters archived and trimmed", "stream", k.Dead, "count", n,
			"first", entries[0].id, "last", entries[len(entries)-1].id, "max_age", a.cfg.MaxAge)
		if !more {
			return total, nil
		}
		if !renew(ctx, l) {
			return total, ErrLeaseLost
		}
		start = "(" + entries[len(entries)-1].id
	}
}

// read reads one batch of stream from start to end: up to Batch entries
// and about BatchBytes, readPage at a time. more is false once the range
// has nothing after the batch.
func (a *Archiver) read(ctx context.Context, stream, start, end string) (batch []entry, more bool, err error) {
	size := 0
	for len(batch) < a.cfg.Batch && size < a.cfg.BatchBytes {
		n := min(readPage, a.cfg.Batch-len(batch))
		reply, err := a.rdb.Do(ctx, "XRANGE", stream, start, end, "COUNT", n).Result()
		if err != nil {
			return nil, false, fmt.Errorf("read %s: %w", stream, err)
		}
		page, err := parseRange(reply)
		if err != nil {
			return nil, false, fmt.Errorf("read %s: %w", stream, err)
		}
		batch = append(batch, page...)
		for _, e := range page {
			for _, s := range e.kv {
				size += len(s)
			}
		}
		if len(page) < n {
			return batch, false, nil
		}
		start = "(" + page[len(page)-1].id
	}
	return batch, true, nil
}

// warnOff says, at most once an hour, that dead letters older than MaxAge
// stay in Redis because there is nowhere to archive them.
func (a *Archiver) warnOff(ctx context.Context) {
	now := a.cfg.Clock.Now()
	if !a.lastWarn.IsZero() && now.Sub(a.lastWarn) < time.Hour {
		return
	}
	age, err := a.oldestAge(ctx)
	if err != nil || age <= a.cfg.MaxAge {
		return
	}
	a.lastWarn = now
	a.cfg.Logger.Warn("dead letters older than dead.max_age stay in Redis: there is no ClickHouse to archive them to (clickhouse.addr is empty); replay or drop them, or set clickhouse.addr",
		"oldest_age", age.Round(time.Second), "dead_max_age", a.cfg.MaxAge)
}

// oldestAge is how long ago the oldest entry of any dead-letter stream was
// appended; 0 when they are all empty.
func (a *Archiver) oldestAge(ctx context.Context) (time.Duration, error) {
	pipe := a.rdb.Pipeline()
	cmds := make([]*redis.XMessageSliceCmd, len(a.cfg.Shards))
	for i, k := range a.cfg.Shards {
		cmds[i] = pipe.XRangeN(ctx, k.Dead, "-", "+", 1)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	var oldest time.Duration
	now := a.cfg.Clock.Now()
	for _, c := range cmds {
		msgs, err := c.Result()
		if err != nil || len(msgs) == 0 {
			continue
		}
		ms, err := streamMs(msgs[0].ID)
		if err != nil {
			continue
		}
		oldest = max(oldest, now.Sub(time.UnixMilli(ms)))
	}
	return oldest, nil
}
