package twoway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/source"
)

// Side is one side of a two-way partner.
type Side string

// The two sides: our own system, and the partner.
const (
	Ours   Side = "ours"
	Theirs Side = "theirs"
)

// Other is the side that is not s.
func (s Side) Other() Side {
	if s == Ours {
		return Theirs
	}
	return Ours
}

// The conflict policies (docs/partners.md, "Conflicts"); config.Conflict*.
const (
	PolicyOurs   = "ours"
	PolicyTheirs = "theirs"
	PolicyNewest = "newest"
	PolicyManual = "manual"
)

// Reader reads one side's current record: found false when that side does
// not have it (or holds it as deleted). partnerread.Reader is one.
type Reader interface {
	Get(ctx context.Context, entity, key string) (source.Record, bool, error)
}

// Config is one direction of a two-way partner.
type Config struct {
	Partner string
	// From is the side this pipeline's events come from: Ours for the
	// pipeline that writes to the partner, Theirs for the one that writes
	// the partner's changes to our system.
	From Side
	// Keys are the partner's key sets (layout.Shards.ForPartner): the
	// agreements and conflicts live there, shared by both directions.
	Keys layout.Shards
	// Hash is the partner profile's compare hash of a record's data in our
	// shape (profile.Profile.Hash): compared fields only, values as values.
	Hash func(entity string, data json.RawMessage) string
	// Target reads the side events are written to, before a change is
	// written, to find conflicts; nil turns conflict checks off.
	Target Reader
	// Policy is the conflict policy of an entity (ours, theirs, newest,
	// manual).
	Policy func(entity string) string
	// Resolve appends an event that carries the winning side's record to
	// the pipeline of the other direction, marked resolved
	// (handlers.MetaResolved).
	Resolve func(ctx context.Context, e event.Event) error
	Retry   handlers.RetryPolicy
	Clock   func() time.Time
	Logger  *slog.Logger
}

// Pair is one direction of a two-way partner: its step and its sender.
type Pair struct {
	cfg Config
	rdb redis.UniversalClient
}

// New builds a Pair.
func New(cfg Config, rdb redis.UniversalClient) (*Pair, error) {
	switch {
	case cfg.Partner == "" || len(cfg.Keys) == 0 || cfg.Hash == nil:
		return nil, errors.New("twoway: partner, keys and hash required")
	case cfg.From != Ours && cfg.From != Theirs:
		return nil, errors.New("twoway: From must be ours or theirs")
	case cfg.Target != nil && (cfg.Policy == nil || cfg.Resolve == nil):
		return nil, errors.New("twoway: conflict checks need a policy and a resolver")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pair{cfg: cfg, rdb: rdb}, nil
}

// hash is the compare hash of e's content: "-" for a delete.
func (p *Pair) hash(e event.Event) string {
	if e.Op == event.OpDelete {
		return "-"
	}
	return p.cfg.Hash(e.Entity, e.Data)
}

// recordHash is the compare hash of a side's record: "-" when absent.
func (p *Pair) recordHash(entity string, r source.Record, found bool) string {
	if !found {
		return "-"
	}
	return p.cfg.Hash(entity, r.Data)
}

// versions puts v on side s: (ours, theirs).
func versions(s Side, v int64) (int64, int64) {
	if s == Ours {
		return v, 0
	}
	return 0, v
}

// settled is the version of side s the agreement settles.
func settled(a layout.Agreement, s Side) int64 {
	if s == Ours {
		return a.Ours
	}
	return a.Theirs
}

// agree records, for e's record, hash (when not "") and version v of side s.
func (p *Pair) agree(ctx context.Context, e event.Event, hash string, s Side, v int64) error {
	o, t := versions(s, v)
	return layout.Agree(ctx, p.rdb, p.cfg.Keys.For(e.Account), e.Entity, e.Key, hash, o, t)
}
