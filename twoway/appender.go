package twoway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/inbound"
	"github.com/streamsync/streamsync/ingest"
	"github.com/streamsync/streamsync/internal/layout"
)

// Appender appends the changes partners send back to each one's inbound
// stream (inbound.Appender), and the events that settle conflicts to
// either direction.
type Appender struct {
	RDB redis.UniversalClient
	// Partners are the two-way partners' key sets by name
	// (layout.Shards.ForPartner); the inbound streams are their Inbound().
	Partners map[string]layout.Shards
	Limits   event.Limits
	Clock    func() time.Time
}

var _ inbound.Appender = (*Appender)(nil)

// ErrUnknownPartner is returned for a partner that is not two-way.
var ErrUnknownPartner = errors.New("not a two-way partner")

// Append appends one event per change to partner's inbound stream, in
// order, each routed to its account's shard (docs/partners.md, "Two-way
// sync"). An event's id is derived from partner, via, ref and the
// change, so the same change appended twice is a duplicate the ledger
// skips. The origin is the partner's name. A change without an account
// takes the one the partner's ledger keeps for the record, else its key;
// without a version (a partner that keeps none) it takes the time it
// arrived, in unix ms. A change that does not make a valid event fails
// the whole call, naming it, and nothing is appended.
func (a *Appender) Append(ctx context.Context, partner string, via inbound.Via, ref string, changes []inbound.Change) error {
	keys, ok := a.Partners[partner]
	if !ok {
		return fmt.Errorf("partner %q: %w", partner, ErrUnknownPartner)
	}
	now := a.now()
	events := make([]event.Event, 0, len(changes))
	for i, c := range changes {
		e := event.Event{ID: changeID(partner, via, ref, i, c), Account: c.Account, Entity: c.Entity, Key: c.Key,
			Version: c.Version, Origin: partner, ParentEntity: c.ParentEntity, ParentKey: c.ParentKey, TS: now.UnixMilli()}
		if e.Account == "" {
			acct, err := a.accountOf(ctx, keys, c)
			if err != nil {
				return err
			}
			e.Account = acct
		}
		if e.Version <= 0 {
			e.Version = now.UnixMilli()
		}
		if c.Deleted {
			e.Op = event.OpDelete
		} else {
			e.Op, e.Data = event.OpUpsert, c.Data
		}
		if err := ingest.Appendable(e, a.Limits); err != nil {
			return fmt.Errorf("change %d (%s/%s): %w", i+1, c.Entity, c.Key, err)
		}
		events = append(events, e)
	}
	in := keys.Inbound()
	return ingest.AppendRouted(ctx, a.RDB, in.Stream, events)
}

// accountOf is the account the partner's ledger keeps for c's record, else
// the one of its inbound ledger, else c's key (so that one record's
// changes still keep their order).
func (a *Appender) accountOf(ctx context.Context, keys layout.Shards, c inbound.Change) (string, error) {
	for _, ks := range []layout.Shards{keys, keys.Inbound()} {
		// an account's shard is unknown without the account: look in each
		for _, k := range ks {
			s, err := a.RDB.HGet(ctx, k.Ledger(c.Entity), c.Key).Result()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				return "", fmt.Errorf("the account of %s/%s: %w", c.Entity, c.Key, err)
			}
			if l := handlers.ParseLedger(s); l.Account != "" {
				return l.Account, nil
			}
		}
	}
	return c.Key, nil
}

// ToTheirs appends e, marked resolved and meant for partner only, to the
// events stream the partner's pipeline reads: a conflict settled with our
// record.
func (a *Appender) ToTheirs(ctx context.Context, partner string, e event.Event) error {
	keys, ok := a.Partners[partner]
	if !ok {
		return fmt.Errorf("partner %q: %w", partner, ErrUnknownPartner)
	}
	e.Origin, e.TS = "", a.now().UnixMilli()
	return a.add(ctx, keys.For(e.Account).Events, e, handlers.MetaResolved, "1", handlers.MetaFor, partner)
}

// ToOurs appends e, marked resolved, to partner's inbound stream: a
// conflict settled with the partner's record.
func (a *Appender) ToOurs(ctx context.Context, partner string, e event.Event) error {
	keys, ok := a.Partners[partner]
	if !ok {
		return fmt.Errorf("partner %q: %w", partner, ErrUnknownPartner)
	}
	e.Origin, e.TS = partner, a.now().UnixMilli()
	return a.add(ctx, keys.Inbound().For(e.Account).Events, e, handlers.MetaResolved, "1")
}

func (a *Appender) add(ctx context.Context, stream string, e event.Event, extra ...any) error {
	if err := ingest.Appendable(e, a.Limits); err != nil {
		return fmt.Errorf("%s/%s: %w", e.Entity, e.Key, err)
	}
	if err := a.RDB.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: append(e.Fields(), extra...)}).Err(); err != nil {
		return fmt.Errorf("append %s to %s: %w", e.ID, stream, err)
	}
	return nil
}

func (a *Appender) now() time.Time {
	if a.Clock == nil {
		return time.Now()
	}
	return a.Clock()
}

// changeID is "in-" and 32 hex digits of SHA-256 over what identifies
// the change.
func changeID(partner string, via inbound.Via, ref string, i int, c inbound.Change) string {
	h := sha256.New()
	for _, s := range []string{partner, string(via), ref, strconv.Itoa(i), c.Entity, c.Key, strconv.FormatInt(c.Version, 10)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "in-" + hex.EncodeToString(h.Sum(nil))[:32]
}
