package backfill

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/source"
	"golang.org/x/time/rate"
)

// Defaults of Config.
const (
	DefaultRate     = 1000 // records a second (docs/backfill.md)
	DefaultMaxBatch = 100  // records per append under a rate limit
	// UnlimitedBatch is the records per append without a limit: fewer,
	// larger round trips.
	UnlimitedBatch = 500
	// Origin marks a backfill event (docs/backfill.md).
	Origin = "backfill"
)

// Dead-letter reasons replayed by --replay-dead (docs/backfill.md).
var ReplayReasons = []string{"parent_missing", "exhausted"}

// DeadReplayer replays the dead letters with one of reasons that died at or
// after since, and says how many it replayed.
type DeadReplayer interface {
	ReplayDead(ctx context.Context, reasons []string, since time.Time) (int, error)
}

// Config configures a Backfill.
type Config struct {
	// Stream is the events stream the upserts are appended to.
	Stream string
	// Route, when set, names the events stream of an account's shard
	// (docs/scaling.md, layout.Shards.Stream) and Stream is not used for appends.
	Route func(account string) string
	// For, when set, names the one partner of several the upserts are
	// meant for (their _ss_for field, docs/partners.md "Several partners"):
	// the other partners pass them by. Empty: every partner reads them.
	For string
	// StateKey names the Redis hash that keeps a run's position (built by
	// the caller with the other keys); required.
	StateKey func(runID string) string
	// Entities to read (--entity); empty: the source's (source.entities or
	// the file's), else LedgerEntities.
	Entities []string
	// LedgerEntities are the entities the ledger has seen, for a source that
	// cannot list its own (http without source.entities, docs/reconcile.md).
	LedgerEntities func(ctx context.Context) ([]string, error)
	// Accounts to read (--account); empty: every account.
	Accounts []string
	// Rate is records appended a second at most (--rate, DefaultRate); a
	// negative rate means no limit.
	Rate float64
	// Resume continues the run of this id (--resume); empty starts a new run.
	Resume string
	// RunID is a new run's id (NewRunID when empty); ignored with Resume.
	RunID string
	// ReplayDead replays, at the end, the dead letters with a reason of
	// ReplayReasons that died since the run began (--replay-dead).
	ReplayDead bool
	Replayer   DeadReplayer
	// Limits are the events' (event.max_bytes); a record past them is
	// reported and skipped.
	Limits event.Limits
	// Progress is told of every batch appended; none when nil.
	Progress Progress
	Now      func() time.Time
	Logger   *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Progress == nil {
		c.Progress = nopProgress{}
	}
}

// Validate reports a setting the backfill cannot run with.
func (c Config) Validate() error {
	switch {
	case c.Stream == "":
		return errors.New("backfill: events stream required")
	case c.StateKey == nil:
		return errors.New("backfill: state key required")
	case c.ReplayDead && c.Replayer == nil:
		return errors.New("backfill: --replay-dead needs a dead-letter replayer")
	}
	for _, e := range c.Entities {
		if err := event.Validate(event.Event{ID: "x", Account: "x", Entity: e, Key: "x", Op: event.OpDelete, Version: 1}); err != nil {
			return fmt.Errorf("--entity %q: %w", e, err)
		}
	}
	return nil
}

// Summary is what a run did, printed at its end.
type Summary struct {
	RunID string `json:"run_id"`
	// Records are the source records read by this invocation; Appended the
	// upserts it appended; Skipped the records that were not valid events.
	Records  int64 `json:"records"`
	Appended int64 `json:"appended"`
	Skipped  int64 `json:"skipped"`
	// RunAppended counts the whole run's appends, earlier invocations included.
	RunAppended int64    `json:"run_appended"`
	Entities    []string `json:"entities"`
	Resumed     bool     `json:"resumed"`
	// Complete is false when the run was interrupted: --resume continues it.
	Complete     bool    `json:"complete"`
	DurationMS   int64   `json:"duration_ms"`
	PerSecond    float64 `json:"records_per_second"`
	ReplayedDead int     `json:"replayed_dead"`
	// BadLines are a file source's lines that are not records, skipped
	// (each counted once, however many entities were read); the caller
	// that counts them (source.Config.OnBadLine) sets it.
	BadLines int64 `json:"bad_lines"`
	// Notes say what the user should look at: a run that read no record.
	Notes []string `json:"notes"`
}

// ErrNoSource is a backfill without a source (source.kind none).
var ErrNoSource = errors.New("backfill needs a source: set source.kind to http (with source.base_url) or file (with source.file)")

// InterruptedError is a run stopped before its end (ctx ended): its position
// is saved and --resume RunID continues it. It unwraps to the context's
// error.
type InterruptedError struct {
	RunID string
	Cause error
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("backfill %s interrupted; continue with --resume %s", e.RunID, e.RunID)
}

func (e *InterruptedError) Unwrap() error { return e.Cause }

// Backfill is one run of a full sync.
type Backfill struct {
	cfg   Config
	rdb   redis.UniversalClient
	src   source.Source
	runID string
}

// New prepares a run reading src and appending to rdb; the run id is fixed
// here (a new one, or cfg.Resume). It closes neither rdb nor src.
func New(cfg Config, rdb redis.UniversalClient, src source.Source) (*Backfill, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if src == nil || src.Kind() == source.KindNone {
		return nil, ErrNoSource
	}
	id := cfg.Resume
	if id == "" {
		id = cfg.RunID
	}
	if id == "" {
		id = NewRunID(cfg.Now())
	}
	return &Backfill{cfg: cfg, rdb: rdb, src: src, runID: id}, nil
}

// RunID names the run; bf-<run_id>-<n> are its event ids.
func (b *Backfill) RunID() string { return b.runID }

// NewRunID is a new run id: the time in base 36 and 6 random hex digits.
func NewRunID(now time.Time) string {
	r := make([]byte, 3)
	_, _ = rand.Read(r)
	return strconv.FormatInt(now.UnixMilli(), 36) + hex.EncodeToString(r)
}

// Run reads every record of every entity (and account) and appends one
// upsert per record, at most cfg.Rate a second, keeping its position in
// Redis after every batch. When ctx ends it stops after the batch in hand,
// saves where it was and returns the summary with Complete false and the
// context's error.
func (b *Backfill) Run(ctx context.Context) (sum Summary, err error) {
	start := b.cfg.Now()
	st, err := b.loadState(ctx)
	if err != nil {
		return Summary{RunID: b.runID}, err
	}
	sum = Summary{RunID: b.runID, Resumed: b.cfg.Resume != "", Entities: st.Entities}
	defer func() {
		sum.RunAppended = st.N
		sum.DurationMS = b.cfg.Now().Sub(start).Milliseconds()
		if s := b.cfg.Now().Sub(start).Seconds(); s > 0 {
			sum.PerSecond = float64(sum.Appended) / s
		}
	}()
	b.cfg.Progress.Start(-1)
	lim, batch := limiter(b.cfg.Rate)
	for _, u := range st.units() {
		if err := b.unit(ctx, st, u, lim, batch, &sum); err != nil {
			b.cfg.Progress.Finish()
			if ctx.Err() != nil {
				return sum, &InterruptedError{RunID: b.runID, Cause: ctx.Err()}
			}
			return sum, err
		}
	}
	b.cfg.Progress.Finish()
	sum.Complete = true
	if sum.Records == 0 && st.N == 0 {
		// Complete, but nothing was read: most likely the entities are not
		// the source's (source.entities, --entity) or --account matched none.
		note := fmt.Sprintf("the source yielded no records for entities [%s]: check source.entities or --entity (and --account) against what the source holds",
			strings.Join(st.Entities, ", "))
		if len(st.Entities) == 0 {
			note = "no entities to read: give --entity E or set source.entities (the ledger has seen no entity yet)"
		}
		sum.Notes = append(sum.Notes, note)
		b.cfg.Logger.Warn("backfill: "+note, "run_id", b.runID)
	}
	if err := b.finish(ctx, st); err != nil {
		return sum, err
	}
	if b.cfg.ReplayDead {
		n, err := b.cfg.Replayer.ReplayDead(ctx, ReplayReasons, time.UnixMilli(st.StartedAt))
		sum.ReplayedDead = n
		if err != nil {
			return sum, fmt.Errorf("backfill %s: replay dead letters: %w", b.runID, err)
		}
	}
	return sum, nil
}

// limiter paces appends: a burst of one batch, batches of about a tenth of
// a second's records.
func limiter(perSecond float64) (*rate.Limiter, int) {
	if perSecond < 0 {
		return rate.NewLimiter(rate.Inf, UnlimitedBatch), UnlimitedBatch
	}
	batch := max(1, min(DefaultMaxBatch, int(perSecond/10)))
	return rate.NewLimiter(rate.Limit(perSecond), batch), batch
}

// unit backfills one entity (of one account, or of all).
func (b *Backfill) unit(ctx context.Context, st *state, u unit, lim *rate.Limiter, batch int, sum *Summary) error {
	pos := st.Pos[u.name()]
	if pos.Done {
		return nil
	}
	it := b.src.List(u.Entity, source.ListOptions{Account: u.Account, Cursor: pos.Cursor})
	for {
		page, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return b.save(context.WithoutCancel(ctx), st, u, position{Done: true})
		}
		if err != nil {
			return fmt.Errorf("backfill %s: read %s: %w", b.runID, u.name(), err)
		}
		page = page[min(pos.Skip, len(page)):]
		for len(page) > 0 {
			n := min(batch, len(page))
			if err := lim.WaitN(ctx, n); err != nil {
				return err
			}
			// Once a batch is paid for it is appended and its position saved
			// even when ctx ends meanwhile: an interrupt never splits them.
			bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			appended, err := b.append(bctx, st, page[:n], sum)
			if err == nil {
				pos.Skip += n
				err = b.save(bctx, st, u, pos)
			}
			cancel()
			if err != nil {
				return err
			}
			sum.Records += int64(n)
			sum.Appended += int64(appended)
			b.cfg.Progress.Add(n)
			page = page[n:]
		}
		// After a page the cursor is empty only at the end (source.Iterator).
		pos = position{Cursor: it.Cursor(), Done: it.Cursor() == ""}
		if err := b.save(context.WithoutCancel(ctx), st, u, pos); err != nil {
			return err
		}
		if pos.Done {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
