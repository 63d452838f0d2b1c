package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/ingest"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/replicas"
)

// Relay moves committed outbox rows into the events stream.
type Relay struct {
	cfg   Config
	pool  *pgxpool.Pool
	rdb   redis.UniversalClient
	table string // quoted
	lock  int64
	// order is the ORDER BY of a batch: commit order where the table has
	// its commit_seq stamp, else id order; "" until RelayOnce first looks.
	order   string
	metrics *metrics
	log     *slog.Logger
	// afterAppend, when set (tests), runs after the batch is in Redis and
	// before its rows are deleted; an error there is a crash at that point.
	afterAppend func() error
}

// NewRelay builds a Relay over pool and rdb; it closes neither.
func NewRelay(cfg Config, pool *pgxpool.Pool, rdb redis.UniversalClient) (*Relay, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Relay{cfg: cfg, pool: pool, rdb: rdb, table: quoteTable(cfg.Table), lock: lockKey(cfg.Table),
		metrics: newMetrics(cfg.Registerer), log: cfg.Logger}, nil
}

// Run creates the table when missing, then relays until ctx ends. A failed
// pass (PostgreSQL or Redis away) is logged and tried again after the poll
// interval; its rows stay in the table.
func (r *Relay) Run(ctx context.Context) error {
	for {
		err := EnsureTable(ctx, r.pool, r.cfg.Table)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		r.log.Error("outbox: cannot reach the table; trying again", "table", r.cfg.Table, "err", err)
		if !r.wait(ctx, time.Second) {
			return nil
		}
	}
	for r.order == "" {
		if err := r.prepare(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.log.Error("outbox: cannot read the table's definition; trying again", "table", r.cfg.Table, "err", err)
			if !r.wait(ctx, time.Second) {
				return nil
			}
		}
	}
	r.log.Info("outbox relay running", "table", r.cfg.Table, "batch", r.cfg.Batch)
	for {
		n, err := r.RelayOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			r.metrics.failures.Inc()
			r.log.Log(ctx, replicas.Level(err), "outbox: relay pass failed; its rows will be relayed again", "err", err)
		}
		r.updateLag(ctx)
		// Rows that came during a pass are taken at once; only an empty
		// pass waits for the next poll.
		if err != nil || n == 0 {
			if !r.wait(ctx, r.cfg.Poll) {
				return nil
			}
		}
	}
}

// prepare sets r.order: a table without the commit-order stamp
// (docs/reliability.md) gets it when the relay's user may add it; else the
// relay warns, with the statements to run, and relays in id order.
func (r *Relay) prepare(ctx context.Context) error {
	has, err := HasCommitOrder(ctx, r.pool, r.cfg.Table)
	if err != nil {
		return err
	}
	if !has {
		if err := EnsureCommitOrder(ctx, r.pool, r.cfg.Table); err != nil {
			if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || !strings.HasPrefix(pe.Code, "42") {
				return err // PostgreSQL away: look again
			}
			// 42: not the table's owner, or no right to create.
			table, qerr := Qualify(ctx, r.pool, r.cfg.Table)
			if qerr != nil {
				return qerr
			}
			r.log.Warn("outbox: the table has no commit-order stamp and streamsync may not add it: rows are relayed in id order, "+
				"which is not commit order for transactions that run at the same time; have the table's owner run the statements in sql",
				"table", r.cfg.Table, "err", err, "sql", CommitOrderSQL(table))
			r.order = "id"
			return nil
		}
		r.log.Info("outbox: commit-order stamp added to the table", "table", r.cfg.Table)
	}
	r.order = "commit_seq NULLS FIRST, id"
	return nil
}

func (r *Relay) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// RelayOnce relays one batch of the earliest committed rows, in commit order
// (commit_seq, then id; id alone on a table without the stamp), in
// one transaction: the rows are locked (FOR UPDATE SKIP LOCKED, and the
// table's advisory lock so that one instance relays at a time), the valid
// events appended with one pipelined XADD, the invalid ones dead-lettered
// `invalid` with the row's JSON in `raw` (of a row larger than an event may
// be, only its beginning: deadLetter), and then every row of the batch
// deleted with one DELETE. A crash before the commit leaves the rows to be
// relayed again (their duplicates are skipped as stale); nothing is lost.
// It returns how many rows it relayed: 0 when the table is empty or another
// instance holds the lock.
func (r *Relay) RelayOnce(ctx context.Context) (int, error) {
	if r.order == "" {
		if err := r.prepare(ctx); err != nil {
			return 0, err
		}
	}
	tx, err := r.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return 0, fmt.Errorf("outbox: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// The hold goes first: a session that took the lock and then went
	// silent is ended by PostgreSQL after Config.Hold.
	var mine bool
	if err := tx.QueryRow(ctx, `SELECT set_config('idle_in_transaction_session_timeout', $2, true) IS NOT NULL,
		pg_try_advisory_xact_lock($1)`, r.lock, strconv.FormatInt(r.cfg.Hold.Milliseconds(), 10)).Scan(nil, &mine); err != nil {
		return 0, fmt.Errorf("outbox: advisory lock: %w", err)
	}
	if !mine {
		return 0, nil // another instance is relaying
	}
	// A row's JSON is read only up to the largest an event may be
	// (event.Limits.MaxJSONBytes): a larger one is dead-lettered with its
	// first rawClip characters, so that no row, however large, is held
	// whole (docs/producers.md).
	maxJSON := r.cfg.Limits.MaxJSONBytes()
	rows, err := tx.Query(ctx, `SELECT id, octet_length(event::text),
		CASE WHEN octet_length(event::text) <= $2 THEN event::text ELSE left(event::text, $3) END
		FROM `+r.table+` ORDER BY `+r.order+` LIMIT $1 FOR UPDATE SKIP LOCKED`, r.cfg.Batch, maxJSON, rawClip)
	if err != nil {
		return 0, fmt.Errorf("outbox: read %s: %w", r.cfg.Table, err)
	}
	var ids []int64
	var texts []json.RawMessage
	var items []json.RawMessage // the rows read whole, to parse
	var at []int                // each item's index in ids
	var rejected []ingest.Rejected
	for rows.Next() {
		var id int64
		var size int
		var text string
		if err := rows.Scan(&id, &size, &text); err != nil {
			rows.Close()
			return 0, fmt.Errorf("outbox: read %s: %w", r.cfg.Table, err)
		}
		if size > maxJSON {
			rejected = append(rejected, ingest.Rejected{Index: len(ids),
				Reason: fmt.Sprintf("%s; raw holds its first %d characters", r.cfg.Limits.TooLargeJSON(size), rawClip)})
		} else {
			at = append(at, len(ids))
			items = append(items, json.RawMessage(text))
		}
		ids = append(ids, id)
		texts = append(texts, json.RawMessage(text))
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("outbox: read %s: %w", r.cfg.Table, err)
	}
	if len(ids) == 0 {
		return 0, nil
	}

	now := r.cfg.Now()
	events, bad := ingest.Parse(items, r.cfg.Limits, now)
	for _, rj := range bad {
		rj.Index = at[rj.Index]
		rejected = append(rejected, rj)
	}
	slices.SortFunc(rejected, func(a, b ingest.Rejected) int { return a.Index - b.Index })
	// Redis first: the rows go only once Redis has their events.
	if err := ingest.AppendReplicated(ctx, r.rdb, r.route, events, r.cfg.Replicas); err != nil {
		return 0, fmt.Errorf("outbox: rows %d..%d: %w", ids[0], ids[len(ids)-1], err)
	}
	for _, rj := range rejected {
		if err := r.deadLetter(ctx, ids[rj.Index], texts[rj.Index], rj.Reason, now); err != nil {
			return 0, err
		}
	}
	if r.afterAppend != nil {
		if err := r.afterAppend(); err != nil {
			return 0, err
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM `+r.table+` WHERE id = ANY($1)`, ids); err != nil {
		return 0, fmt.Errorf("outbox: delete relayed rows %d..%d: %w", ids[0], ids[len(ids)-1], err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("outbox: commit: %w", err)
	}
	r.metrics.relayed.WithLabelValues("appended").Add(float64(len(events)))
	r.metrics.relayed.WithLabelValues("invalid").Add(float64(len(rejected)))
	if len(rejected) > 0 {
		r.log.Warn("outbox: invalid rows dead-lettered", "count", len(rejected))
	}
	return len(ids), nil
}

// rawClip is how many characters of a row too large to be an event its
// dead letter keeps in `raw`.
const rawClip = 16 << 10

// deadLetter writes one invalid row to the dead-letter stream with its
// JSON in `raw` (a row too large to be an event: its first rawClip
// characters), the id, account, entity, key and op it could read, and
// outbox_id; its attempt-log row is `invalid`, keyed by the row's id so a
// row dead-lettered again after a crash collapses in the attempt log.
func (r *Relay) deadLetter(ctx context.Context, id int64, raw json.RawMessage, reason string, now time.Time) error {
	fields := map[string]string{"raw": string(raw), "outbox_id": strconv.FormatInt(id, 10)}
	// Read member by member (a row of a million fields costs nothing), up
	// to where a clipped row is cut.
	_ = event.EachMember(raw, func(name, v []byte) bool {
		switch n := string(name); n {
		case event.FieldID, event.FieldAccount, event.FieldEntity, event.FieldKey, event.FieldOp:
			var s string
			if json.Unmarshal(v, &s) == nil {
				fields[n] = s
			}
		}
		return true
	})
	e := event.Event{ID: fields[event.FieldID], Account: fields[event.FieldAccount], Entity: fields[event.FieldEntity],
		Key: fields[event.FieldKey], Op: event.Op(fields[event.FieldOp])}
	o := handlers.Outcome{Step: handlers.StepInvalid, DeadReason: handlers.ReasonInvalid, Error: "outbox row " + fields["outbox_id"] + ": " + reason}
	source := "outbox:" + r.cfg.Table + ":" + fields["outbox_id"]
	if err := layout.DeadLetterDirect(ctx, r.rdb, r.cfg.Keys, source, e, fields, o, now, r.cfg.Instance, r.cfg.AttemptLog); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// updateLag sets the lag gauge to the age of the oldest row (by id).
func (r *Relay) updateLag(ctx context.Context) {
	var age float64
	err := r.pool.QueryRow(ctx, `SELECT EXTRACT(EPOCH FROM now() - created_at)::float8 FROM `+r.table+` ORDER BY id LIMIT 1`).Scan(&age)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		r.metrics.lag.Set(0)
	case err == nil:
		r.metrics.lag.Set(max(age, 0))
	}
}

// route is where an account's events go: its shard's events stream
// (docs/scaling.md) when Config.Route is set, else Keys.Events.
func (r *Relay) route(account string) string {
	if r.cfg.Route != nil {
		return r.cfg.Route(account)
	}
	return r.cfg.Keys.Events
}
