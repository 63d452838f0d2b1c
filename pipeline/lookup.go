package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/handlers"
)

// lookup fills in what the steps need to know of the ledger and the state
// of the parent, in one round trip.
func lookup(ctx context.Context, rdb redis.UniversalClient, k Keys, w *handlers.Work) error {
	e := w.Event
	pipe := rdb.Pipeline()
	rec := pipe.HGet(ctx, k.Ledger(e.Entity), e.Key)
	var parent, state *redis.StringCmd
	if e.HasParent() {
		parent = pipe.HGet(ctx, k.Ledger(e.ParentEntity), e.ParentKey)
		state = pipe.HGet(ctx, k.State(e.ParentEntity), e.ParentKey)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("lookup ledger of %s: %w", e.ID, err)
	}
	w.Record = handlers.ParseLedger(rec.Val())
	if parent != nil {
		w.Parent = handlers.ParseLedger(parent.Val())
		w.ParentState = handlers.State(state.Val())
	}
	return nil
}
