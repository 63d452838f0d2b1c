package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
)

// lookup takes the account's lease and fills in what the steps need to know
// of the ledger and the state of the parent, in one round trip shared with
// the other events in flight. k is the event's shard; a parent that shard
// knows nothing of is looked for in the other shards in a second round trip
// (contract §9: a parent in another shard still gates its child).
func lookup(ctx context.Context, trips *roundTrips, k layout.Keys, all layout.Shards, w *handlers.Work, runID string, leaseTTL time.Duration) error {
	e := w.Event
	leaseKey := k.Lease(e.Account)
	keys := []string{leaseKey, k.Ledger(e.Entity)}
	if e.HasParent() {
		keys = append(keys, k.Ledger(e.ParentEntity), k.State(e.ParentEntity))
	}
	args := []any{runID, leaseTTL.Milliseconds(), e.Key, len(keys), e.ParentKey}
	answer, err := trips.runPart(ctx, lookupScript, k.Events, keys, args)
	var got []any
	if err == nil {
		got, err = lookupAnswer(answer)
	}
	held := false
	if err == nil {
		held, err = leaseHeldBy(ctx, trips.rdb, got[0], leaseKey, runID, leaseTTL)
	}
	if err != nil {
		return fmt.Errorf("lookup ledger of %s: %w", e.ID, err)
	}
	if !held {
		return fmt.Errorf("event %s, account %s: %w", e.ID, e.Account, ErrAccountBusy)
	}
	w.Record = handlers.ParseLedger(text(got[1]))
	if e.HasParent() {
		parent, state := text(got[2]), text(got[3])
		w.Parent = handlers.ParseLedger(parent)
		w.ParentState = handlers.State(state)
		if parent == "" && state == "" && len(all) > 1 {
			return lookupParentElsewhere(ctx, trips.rdb, k, all, w)
		}
	}
	return nil
}

// lookupAnswer reads lookupScript's answer for one event: {lease holder,
// ledger entry, parent's ledger entry, parent's state}, each a string or
// nil, or the text of what went wrong.
func lookupAnswer(answer any) ([]any, error) {
	switch v := answer.(type) {
	case []any:
		if len(v) == 4 {
			return v, nil
		}
	case string:
		return nil, errors.New(v)
	}
	return nil, fmt.Errorf("lookup answered %v (%T)", answer, answer)
}

// text is a script's string answer, "" for nil.
func text(v any) string {
	s, _ := v.(string)
	return s
}

// lookupParentElsewhere reads the parent's ledger and state in every shard
// but k: the first shard whose ledger has it wins, else the first that
// knows its state.
func lookupParentElsewhere(ctx context.Context, rdb redis.UniversalClient, k layout.Keys, all layout.Shards, w *handlers.Work) error {
	e := w.Event
	pipe := rdb.Pipeline()
	type pair struct{ ledger, state *redis.StringCmd }
	var cmds []pair
	for _, o := range all {
		if o.Events == k.Events {
			continue
		}
		cmds = append(cmds, pair{pipe.HGet(ctx, o.Ledger(e.ParentEntity), e.ParentKey), pipe.HGet(ctx, o.State(e.ParentEntity), e.ParentKey)})
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("lookup parent of %s in other shards: %w", e.ID, err)
	}
	for _, c := range cmds {
		if v := c.ledger.Val(); v != "" {
			w.Parent = handlers.ParseLedger(v)
			w.ParentState = handlers.State(c.state.Val())
			return nil
		}
	}
	for _, c := range cmds {
		if v := c.state.Val(); v != "" {
			w.ParentState = handlers.State(v)
			return nil
		}
	}
	return nil
}
