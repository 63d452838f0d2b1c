package twoway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/source"
)

// State is one side's record in a conflict: its version and data, or
// deleted.
type State struct {
	Version int64           `json:"version"`
	Data    json.RawMessage `json:"data,omitempty"`
	Deleted bool            `json:"deleted,omitempty"`
}

// Conflict is a conflict left to an operator (policy manual): the event
// that met it, the side it came from, and both sides' records then. It is
// kept in the partner's Conflicts hash until a replay settles it
// (`streamsync dead replay --take ours|theirs`).
type Conflict struct {
	Partner string      `json:"partner"`
	From    Side        `json:"from"`
	Event   string      `json:"event_id"`
	Account string      `json:"account"`
	Entity  string      `json:"entity"`
	Key     string      `json:"key"`
	Parent  *source.Ref `json:"parent,omitempty"`
	Ours    State       `json:"ours"`
	Theirs  State       `json:"theirs"`
	At      int64       `json:"at"` // when it was met, unix ms
}

// sameConflictWithin is how long a conflict kept for a record is the one
// the other direction meets too: both directions may read the record at
// once, and one dead letter says it.
const sameConflictWithin = 5 * time.Minute

// maxStateInError bounds each side's data in a dead letter's dead_error.
const maxStateInError = 512

// manual dead-letters e with reason conflict, both sides' records in its
// error and in the partner's Conflicts hash; the other side's own change,
// when it comes, is stale (it waits in this conflict).
//
// The conflict is kept only while the agreement read at the step's start
// (a) still stands: an operator settling the same record meanwhile (`dead
// replay --take`) moves it, and this change is then decided again against
// the settled agreement (errAgreementMoved) instead of reopening the
// conflict the operator just closed.
func (p *Pair) manual(ctx context.Context, w *handlers.Work, a layout.Agreement, cur source.Record, found bool) (*handlers.Outcome, error) {
	e, from := w.Event, p.cfg.From
	mine := State{Version: e.Version, Data: e.Data, Deleted: e.Op == event.OpDelete}
	other := State{Version: cur.Version, Data: cur.Data, Deleted: !found}
	c := Conflict{Partner: p.cfg.Partner, From: from, Event: e.ID, Account: e.Account, Entity: e.Entity, Key: e.Key, At: p.cfg.Clock().UnixMilli()}
	if e.HasParent() {
		c.Parent = &source.Ref{Entity: e.ParentEntity, Key: e.ParentKey}
	}
	if from == Ours {
		c.Ours, c.Theirs = mine, other
	} else {
		c.Ours, c.Theirs = other, mine
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("conflict of %s/%s: %w", e.Entity, e.Key, err)
	}
	k := p.cfg.Keys.For(e.Account)
	set, err := p.rdb.HSetNX(ctx, k.Conflicts(e.Entity), e.Key, b).Result()
	if err != nil {
		return nil, fmt.Errorf("conflict of %s/%s: %w", e.Entity, e.Key, err)
	}
	if !set {
		kept, err := ReadConflict(ctx, p.rdb, p.cfg.Keys, e.Account, e.Entity, e.Key)
		if err != nil && !errors.Is(err, ErrNoConflict) {
			return nil, err
		}
		if err == nil && kept.Event != e.ID && p.cfg.Clock().Sub(time.UnixMilli(kept.At)) < sameConflictWithin {
			// the other direction met this conflict a moment ago and
			// dead-lettered it: settling that one settles this change too
			return &handlers.Outcome{Step: handlers.StepSkippedConflict, Attempt: w.Meta.Attempts,
				Error: fmt.Sprintf("conflict: the same conflict waits in dead letter %s (policy manual); settling it settles this change", kept.Event)}, nil
		}
		if err := p.rdb.HSet(ctx, k.Conflicts(e.Entity), e.Key, b).Err(); err != nil {
			return nil, fmt.Errorf("conflict of %s/%s: %w", e.Entity, e.Key, err)
		}
	}
	now, err := layout.ReadAgreement(ctx, p.rdb, k, e.Entity, e.Key)
	if err != nil {
		return nil, err
	}
	if now != a {
		if err := forgetIf(ctx, p.rdb, k.Conflicts(e.Entity), e.Key, string(b)); err != nil {
			return nil, fmt.Errorf("conflict of %s/%s: %w", e.Entity, e.Key, err)
		}
		return nil, errAgreementMoved
	}
	if found {
		if err := p.agree(ctx, e, "", from.Other(), cur.Version); err != nil {
			return nil, err
		}
	}
	return &handlers.Outcome{Step: handlers.StepDead, DeadReason: handlers.ReasonConflict, Attempt: w.Meta.Attempts,
		Error: fmt.Sprintf("both sides changed the record since they last agreed: ours %s; theirs %s; settle it with `streamsync dead replay --partner %s --id <dead letter id> --take ours|theirs`",
			c.Ours.short(), c.Theirs.short(), p.cfg.Partner)}, nil
}

// short is the state for a dead letter's error: version and data, cut.
func (s State) short() string {
	if s.Deleted {
		return fmt.Sprintf("deleted (version %d)", s.Version)
	}
	d := string(s.Data)
	if len(d) > maxStateInError {
		d = d[:maxStateInError] + "…"
	}
	return fmt.Sprintf("version %d %s", s.Version, d)
}

// errAgreementMoved: the record's agreement changed while a step decided
// on it; the step decides again.
var errAgreementMoved = errors.New("the record's agreement changed meanwhile")

// forgetIfScript deletes a hash field only when it still holds ARGV[2].
var forgetIfScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`)

// forgetIf removes the conflict kept for key in hash when it is still the
// one this step wrote (value).
func forgetIf(ctx context.Context, rdb redis.Scripter, hash, key, value string) error {
	return forgetIfScript.Run(ctx, rdb, []string{hash}, key, value).Err()
}

// ErrNoConflict is returned by ReadConflict for a record with no conflict
// kept.
var ErrNoConflict = errors.New("no conflict is kept for this record")

// ReadConflict is the conflict kept for one record of the partner whose
// key sets are keys.
func ReadConflict(ctx context.Context, rdb redis.Cmdable, keys layout.Shards, account, entity, key string) (Conflict, error) {
	s, err := rdb.HGet(ctx, keys.For(account).Conflicts(entity), key).Result()
	if errors.Is(err, redis.Nil) {
		return Conflict{}, ErrNoConflict
	}
	if err != nil {
		return Conflict{}, err
	}
	var c Conflict
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return Conflict{}, fmt.Errorf("conflict of %s/%s: %w", entity, key, err)
	}
	return c, nil
}

// Settle is the event that settles c with side take's record, and the
// direction it goes: to the partner (take == Ours) or to our system.
// The caller appends it, marked resolved, to that direction's stream,
// then forgets the conflict (Forget).
func (c Conflict) Settle(take Side) (event.Event, error) {
	var s State
	switch take {
	case Ours:
		s = c.Ours
	case Theirs:
		s = c.Theirs
	default:
		return event.Event{}, fmt.Errorf("take %q: must be ours or theirs", take)
	}
	// the dead event's own id: its chain goes on to the settling write
	e := event.Event{ID: c.Event, Account: c.Account, Entity: c.Entity, Key: c.Key, Version: s.Version}
	if s.Deleted {
		e.Op = event.OpDelete
		// the winning side deleted it; the other side's version domain is
		// unknown here, so the delete goes as the newest it can
		other := c.Theirs
		if take == Theirs {
			other = c.Ours
		}
		e.Version = max(s.Version, other.Version) + 1
	} else {
		e.Op, e.Data = event.OpUpsert, s.Data
	}
	if c.Parent != nil {
		e.ParentEntity, e.ParentKey = c.Parent.Entity, c.Parent.Key
	}
	if e.Version <= 0 {
		e.Version = 1
	}
	return e, nil
}

// Forget removes the conflict kept for one record.
func Forget(ctx context.Context, rdb redis.Cmdable, keys layout.Shards, account, entity, key string) error {
	return rdb.HDel(ctx, keys.For(account).Conflicts(entity), key).Err()
}
