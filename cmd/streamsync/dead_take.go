package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/proof"
	"github.com/streamsync/streamsync/twoway"
)

// settleConflicts settles the conflict dead letters f picks among pl's
// (reason conflict, docs/partners.md "Conflicts") with side take's record:
// an event carrying it goes to the other side, marked resolved and with a
// replay's proof (no ledger, stale or conflict check stops it); both
// sides' versions at the conflict are settled; the conflict is forgotten
// and the dead letter dropped. It returns the event ids settled; a dead
// letter f picks that is not a conflict is an error, and nothing of it is
// touched.
func settleConflicts(ctx context.Context, rdb redis.UniversalClient, pl partnerPlan, ops *inspect.Inspector, f inspect.DeadFilter, take string, lim event.Limits) ([]string, error) {
	side := twoway.Side(take)
	if side != twoway.Ours && side != twoway.Theirs {
		return nil, fmt.Errorf("--take %q: want ours or theirs", take)
	}
	if !pl.conf.TwoWay() {
		return nil, fmt.Errorf("partner %s is not two-way: its dead letters hold no conflict", pl.name)
	}
	if f.Empty() {
		return nil, inspect.ErrNoFilter
	}
	items, _, err := ops.ListDead(ctx, f, "", 1000)
	if err != nil {
		return nil, err
	}
	for _, d := range items {
		if d.Reason != handlers.ReasonConflict {
			return nil, fmt.Errorf("dead letter %s is not a conflict (reason %s): replay it without --take", d.EventID, d.Reason)
		}
	}
	key, err := proof.Load(ctx, rdb, pl.shards[0].ProofKey)
	if err != nil {
		return nil, fmt.Errorf("settle: %w", err)
	}
	app := &twoway.Appender{RDB: rdb, Partners: map[string]layout.Shards{pl.name: pl.shards}, Limits: lim}
	var done []string
	for _, d := range items {
		entity, k := d.Fields[event.FieldEntity], d.Fields[event.FieldKey]
		c, err := twoway.ReadConflict(ctx, rdb, pl.shards, d.Account, entity, k)
		if errors.Is(err, twoway.ErrNoConflict) {
			return done, fmt.Errorf("dead letter %s: its conflict is no longer kept (settled already?): drop it, or replay it without --take", d.EventID)
		}
		if err != nil {
			return done, err
		}
		e, err := c.Settle(side)
		if err != nil {
			return done, err
		}
		e.ID = d.EventID // the dead letter's chain goes on to the settling write
		e.Proof = key.SignEvent(proof.Replay, e)
		if side == twoway.Ours {
			err = app.ToTheirs(ctx, pl.name, e)
		} else {
			err = app.ToOurs(ctx, pl.name, e)
		}
		if err != nil {
			return done, err
		}
		if err := layout.Agree(ctx, rdb, pl.shards.For(d.Account), entity, k, "", c.Ours.Version, c.Theirs.Version); err != nil {
			return done, err
		}
		if err := twoway.Forget(ctx, rdb, pl.shards, d.Account, entity, k); err != nil {
			return done, err
		}
		// the same conflict, met by the other direction at the same time,
		// is settled with it
		same, _, err := ops.ListDead(ctx, inspect.DeadFilter{Account: d.Account, Reason: handlers.ReasonConflict}, "", 1000)
		if err != nil {
			return done, err
		}
		drop := []string{d.DeadID}
		for _, o := range same {
			if o.DeadID != d.DeadID && o.Fields[event.FieldEntity] == entity && o.Fields[event.FieldKey] == k {
				drop = append(drop, o.DeadID)
			}
		}
		if _, err := ops.DropDead(ctx, inspect.DeadFilter{IDs: drop}); err != nil {
			return done, err
		}
		done = append(done, d.EventID)
	}
	return done, nil
}

// deadShards are the key sets whose dead letters are pl's: a two-way
// partner's inbound direction's too.
func deadShards(pl partnerPlan) layout.Shards {
	if !pl.conf.TwoWay() {
		return pl.shards
	}
	return append(append(layout.Shards{}, pl.shards...), pl.shards.Inbound()...)
}
