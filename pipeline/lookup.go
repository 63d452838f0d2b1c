package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/handlers"
)

// lookup takes the account's lease and fills in what the steps need to know
// of the ledger and the state of the parent, in one round trip.
func lookup(ctx context.Context, rdb redis.UniversalClient, k Keys, w *handlers.Work, runID string, leaseTTL time.Duration) error {
	e := w.Event
	pipe := rdb.Pipeline()
	lease := acquireScript.Eval(ctx, pipe, []string{k.Lease(e.Account)}, runID, leaseTTL.Milliseconds())
	rec := pipe.HGet(ctx, k.Ledger(e.Entity), e.Key)
	var parent, state *redis.StringCmd
	if e.HasParent() {
		parent = pipe.HGet(ctx, k.Ledger(e.ParentEntity), e.ParentKey)
		state = pipe.HGet(ctx, k.State(e.ParentEntity), e.ParentKey)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("lookup ledger of %s: %w", e.ID, err)
	}
	if n, _ := lease.Int(); n != 1 {
		return fmt.Errorf("event %s, account %s: %w", e.ID, e.Account, ErrAccountBusy)
	}
	w.Record = handlers.ParseLedger(rec.Val())
	if parent != nil {
		w.Parent = handlers.ParseLedger(parent.Val())
		w.ParentState = handlers.State(state.Val())
	}
	return nil
}
