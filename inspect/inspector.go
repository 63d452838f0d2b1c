package inspect

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
)

// Options say where the pipeline's state is and who acts on it.
type Options struct {
	RDB redis.UniversalClient
	// Keys of a single shard; Shards, when set, of every shard (Keys is
	// then ignored).
	Keys   layout.Keys
	Shards layout.Shards
	// Instance names who replays, in the attempt log's `replayed` rows.
	Instance string
	// AttemptLog: a replay writes a `replayed` row to the attempt log.
	AttemptLog bool
	// Partner names the partner whose key sets Keys or Shards are, when
	// several are configured (docs/partners.md, "Several partners"): Status
	// and every dead letter listed carry it. Replays go back to that partner
	// alone by the key sets' Target, not by this name.
	Partner string
}

// Inspector reads the pipeline's counters and dead letters and replays or
// drops dead letters, over every shard.
type Inspector struct {
	opts Options
	ops  DeadOps
}

// New builds an Inspector.
func New(o Options) *Inspector {
	return &Inspector{opts: o, ops: DeadOps{RDB: o.RDB, Keys: o.Keys, Shards: o.Shards, Instance: o.Instance, AttemptLog: o.AttemptLog,
		Partner: o.Partner}}
}

// Status reads the counters of every shard in one pipelined round trip and
// adds them up.
// It names the partner of Options.Partner.
func (i *Inspector) Status(ctx context.Context) (Status, error) {
	s, err := i.ops.Status(ctx)
	s.PartnerName = i.opts.Partner
	return s, err
}

// Partner is the partner of Options.Partner ("" when not set).
func (i *Inspector) Partner() string { return i.opts.Partner }

// ListDead returns up to limit dead letters that match f, starting after
// cursor ("" for the start), and the cursor of the next page ("" at the
// end). With more than one shard a cursor is "SHARD/ENTRY_ID".
func (i *Inspector) ListDead(ctx context.Context, f DeadFilter, cursor string, limit int) ([]DeadLetter, string, error) {
	return i.ops.List(ctx, f, cursor, limit)
}

// ReplayDead re-enters every dead letter that matches f as a new entry of
// the events stream and removes it from the dead-letter stream; it returns
// the ids replayed (at most f.Max when set).
func (i *Inspector) ReplayDead(ctx context.Context, f DeadFilter) ([]string, error) {
	return i.ops.Replay(ctx, f)
}

// DropDead deletes every dead letter that matches f (at most f.Max when
// set) and returns their ids.
func (i *Inspector) DropDead(ctx context.Context, f DeadFilter) ([]string, error) {
	return i.ops.Drop(ctx, f)
}

// Gauges is the prometheus.Collector of the pipeline's state read when
// /metrics is scraped (Gauges): the counters Status reads, as
// gauges. timeout bounds one scrape's reads (0: 2s).
func (i *Inspector) Gauges(timeout time.Duration, logger *slog.Logger) (prometheus.Collector, error) {
	return NewGauges(GaugesConfig{Keys: i.opts.Keys, Shards: i.opts.Shards, Timeout: timeout, Logger: logger}, i.opts.RDB)
}
