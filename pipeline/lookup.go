package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/lease"
)

// lookup takes the account's lease and fills in what the steps need to know
// of the ledger and the state of the parent, in one round trip shared with
// the other events in flight. k is the event's shard; a parent that shard
// knows nothing of is looked for in the other shards in a second round trip
// (docs/scaling.md: a parent in another shard still gates its child).
func lookup(ctx context.Context, rdb redis.UniversalClient, trips *layout.RoundTrips, k layout.Keys, all layout.Shards, w *handlers.Work, runID string, leaseTTL time.Duration) error {
	e := w.Event
	leaseKey := k.Lease(e.Account)
	got, err := trips.Lookup(ctx, k, e, runID, leaseTTL)
	held := false
	if err == nil {
		held, err = lease.New(rdb, leaseKey, runID, leaseTTL).Taken(ctx, got.Holder)
	}
	if err != nil {
		return fmt.Errorf("lookup ledger of %s: %w", e.ID, err)
	}
	if !held {
		return fmt.Errorf("event %s, account %s: %w", e.ID, e.Account, ErrAccountBusy)
	}
	w.Record = handlers.ParseLedger(got.Record)
	if e.HasParent() {
		parent, state := got.Parent, got.ParentState
		w.Parent = handlers.ParseLedger(parent)
		w.ParentState = handlers.State(state)
		if parent == "" && state == "" && len(all) > 1 {
			return lookupParentElsewhere(ctx, rdb, k, all, w)
		}
	}
	return nil
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
