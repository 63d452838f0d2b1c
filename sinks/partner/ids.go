package partner

import (
	"context"
	"errors"
	"fmt"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/internal/idmap"
	"github.com/streamsync/streamsync/internal/replicas"
	"github.com/streamsync/streamsync/profile"
)

// deliverProfiled delivers e through the profile (docs/partners.md): its
// parent's partner id first when a request needs it; then, for an entity
// whose partner assigns ids, what the id map's plan says (update, create,
// find before a retried create, or nothing to send); an upsert of a bulk
// entity joins a batch. Every detail is scrubbed of the profile's secrets.
// Calls counts the calls made; noCall is set when none was.
func (s *Sink) deliverProfiled(ctx context.Context, e event.Event, g delivery.Guard) (r result) {
	defer func() { r.Detail = s.scrub(r.Detail) }()
	p := s.prof.p
	var ids profile.IDs
	if p.NeedsParentID(e.Entity) && e.HasParent() {
		id, miss := s.parentID(ctx, e)
		if miss != nil {
			return *miss
		}
		ids.Parent = id
	}
	upsert := e.Op != event.OpDelete
	_, _, bulk := p.Bulk(e.Entity)
	if !p.AssignsIDs(e.Entity) {
		if upsert && bulk {
			return s.sendBulk(ctx, e, ids, g)
		}
		op := profile.OpUpsert
		if !upsert {
			op = profile.OpDelete
		}
		return s.sendOp(ctx, g, e, op, ids).result
	}
	if s.prof.ids == nil {
		return noCallAnswer(delivery.Permanent, fmt.Sprintf("the partner assigns the ids of %s, and no id map is configured", e.Entity))
	}
	hold := 2*s.prof.timeout + idHold // a find and a create
	plan, err := s.prof.ids.Begin(ctx, e, s.cfg.Now(), hold)
	if errors.Is(err, replicas.ErrNotReplicated) && ctx.Err() == nil {
		// a create whose hold a failover could still undo is not sent
		// (docs/reliability.md, "After a rollback"): tried again later
		return noCallAnswer(delivery.Transient, fmt.Sprintf("nothing sent: %v", err))
	}
	if err != nil {
		return mapFailed("begin", ctx, err)
	}
	if s.findFirst(e) {
		// a record the partner may hold without streamsync having created
		// it: look it up before creating it, or before calling it never sent
		switch plan.Action {
		case idmap.Create:
			plan.Action = idmap.FindThenCreate
		case idmap.Nothing:
			plan.Action = idmap.FindThenDelete
		}
	}
	switch plan.Action {
	case idmap.Nothing:
		r = noCallAnswer(delivery.Delivered, "nothing sent: the partner never got the record")
		r.IDMap = idmap.Write{Op: idmap.WriteGone}
		return r
	case idmap.Wait:
		r = noCallAnswer(delivery.Transient, fmt.Sprintf("nothing sent: another event's create of the record is in flight; trying again in %s", plan.Wait))
		r.RetryAfter = plan.Wait
		return r
	case idmap.Stale:
		return noCallAnswer(delivery.Stale, "nothing sent: the record was deleted at the partner at this version or a later one")
	case idmap.Update:
		ids.Self = plan.ID
		if !upsert {
			return s.deleteByID(ctx, g, e, ids, 0)
		}
		if bulk {
			return s.sendBulk(ctx, e, ids, g)
		}
		return s.update(ctx, g, e, ids, 0)
	case idmap.Create:
		if bulk {
			return s.sendBulk(ctx, e, ids, g)
		}
		return s.create(ctx, g, e, ids, 0)
	case idmap.FindThenCreate, idmap.FindThenDelete:
		id, found, fr := s.find(ctx, g, e, ids)
		if fr != nil {
			return *fr
		}
		calls := 0
		if found != notLooked {
			calls = 1
		}
		if !upsert {
			if found != foundIt {
				r = result{Answer: delivery.Answer{Class: delivery.Delivered, Calls: calls, Detail: "nothing to delete: the partner has no record of the key"}, noCall: calls == 0}
				r.IDMap = idmap.Write{Op: idmap.WriteGone}
				return r
			}
			ids.Self = id
			return s.deleteByID(ctx, g, e, ids, calls)
		}
		if found != foundIt {
			if bulk {
				return addCalls(s.sendBulk(ctx, e, ids, g), calls)
			}
			return s.create(ctx, g, e, ids, calls)
		}
		ids.Self = id
		if bulk {
			r = addCalls(s.sendBulk(ctx, e, ids, g), calls)
		} else {
			r = s.update(ctx, g, e, ids, calls)
		}
		if r.Class == delivery.Delivered && r.IDMap.Op == "" {
			r.IDMap = idmap.Write{Op: idmap.WriteSet, ID: id} // the lost create's record, found
		}
		return r
	}
	return noCallAnswer(delivery.Transient, fmt.Sprintf("id map: unknown plan %v", plan.Action))
}

// findFirst says whether e looks its record up before a first create (or
// before calling a delete's record never sent): the profile's find says
// always, or e is a repair or a backfill, whose records the partner may
// well hold without streamsync having created them (docs/partners.md,
// "Ids the partner assigns").
func (s *Sink) findFirst(e event.Event) bool {
	return s.prof.p.FindAlways(e.Entity) || e.Origin == originReconcile || e.Origin == originBackfill
}

// The origins of repairs and backfills (reconcile.OriginReconcile,
// backfill.Origin; docs/events.md).
const (
	originReconcile = "reconcile"
	originBackfill  = "backfill"
)

// parentID is the partner's id of e's parent; miss, when the parent has
// none yet (not delivered: e waits for it, ParentMissing) or the map
// failed.
func (s *Sink) parentID(ctx context.Context, e event.Event) (string, *result) {
	if s.prof.ids == nil {
		r := noCallAnswer(delivery.Permanent, fmt.Sprintf("%s needs its parent's partner id, and no id map is configured", e.Entity))
		return "", &r
	}
	id, err := s.prof.ids.GetIn(ctx, e.Account, e.ParentEntity, e.ParentKey)
	if err != nil {
		r := mapFailed("get the parent's id", ctx, err)
		return "", &r
	}
	if id == "" {
		r := noCallAnswer(delivery.ParentMissing, fmt.Sprintf("nothing sent: the parent %s %q has no partner id yet", e.ParentEntity, e.ParentKey))
		return "", &r
	}
	return id, nil
}

// mapFailed is the answer when the id map could not be read or written:
// nothing was sent; the event is tried again (Aborted when ctx ended).
func mapFailed(what string, ctx context.Context, err error) result {
	if ctx.Err() != nil {
		return noCallAnswer(delivery.Aborted, fmt.Sprintf("id map: %s: %v", what, err))
	}
	return noCallAnswer(delivery.Transient, fmt.Sprintf("id map: %s: %v", what, err))
}

// sendOp renders op for e and makes the call; a delete delivered notes the
// record gone.
func (s *Sink) sendOp(ctx context.Context, g delivery.Guard, e event.Event, op profile.Op, ids profile.IDs) reply {
	rd, err := s.prof.p.RenderOp(op, e, ids)
	if err != nil {
		return reply{result: noCallAnswer(delivery.Permanent, fmt.Sprintf("render %s: %v", op, err))}
	}
	rp := s.exchange(ctx, g, call{op: op, entity: e.Entity, r: rd, key: e.IdemKey(), traceParent: e.TraceParent})
	if op == profile.OpDelete && rp.Class == delivery.Delivered {
		rp.IDMap = idmap.Write{Op: idmap.WriteGone}
	}
	return rp
}

// deleteByID deletes the record the partner knows as ids.Self; calls are
// the calls made before it in this delivery.
func (s *Sink) deleteByID(ctx context.Context, g delivery.Guard, e event.Event, ids profile.IDs, calls int) result {
	r := s.sendOp(ctx, g, e, profile.OpDelete, ids).result
	return addCalls(r, calls)
}

// update sends the update by the partner's id in ids.Self. A partner that
// has no record of that id (deleted on its side, or lost) gets the record
// again by the create, whose id replaces the old one in the id map
// (docs/partners.md, "Ids the partner assigns"). calls are the calls made
// before it in this delivery.
func (s *Sink) update(ctx context.Context, g delivery.Guard, e event.Event, ids profile.IDs, calls int) result {
	rp := s.sendOp(ctx, g, e, profile.OpUpdate, ids)
	if !rp.notFound {
		return addCalls(rp.result, calls)
	}
	gone := ids.Self
	calls += rp.Calls
	// Look it up first (when the entity has a find): a create of this path
	// whose answer was lost left no note in the id map, and its retry
	// comes this way again.
	ids.Self = ""
	id, found, fr := s.find(ctx, g, e, ids)
	if fr != nil {
		return addCalls(*fr, calls)
	}
	if found != notLooked {
		calls++
	}
	var r result
	if found == foundIt && id != gone {
		ids.Self = id
		r = addCalls(s.sendOp(ctx, g, e, profile.OpUpdate, ids).result, calls)
		if r.Class == delivery.Delivered {
			r.IDMap = idmap.Write{Op: idmap.WriteSet, ID: id}
		}
	} else {
		r = s.create(ctx, g, e, ids, calls)
	}
	if r.Class == delivery.Delivered {
		r.Detail = fmt.Sprintf("%s (made again: the partner had no record of id %s)", r.Detail, gone)
	}
	return r
}

// create sends the create and reads the partner's id from its answer: a
// success without a readable id is permanent (the id map cannot follow the
// record). calls are the calls made before it in this delivery.
func (s *Sink) create(ctx context.Context, g delivery.Guard, e event.Event, ids profile.IDs, calls int) result {
	rp := s.sendOp(ctx, g, e, profile.OpCreate, ids)
	r := addCalls(rp.result, calls)
	if r.Class != delivery.Delivered {
		return r
	}
	id, ok, err := s.prof.p.CreatedID(e.Entity, profile.OpCreate, rp.header, rp.body)
	switch {
	case err != nil:
		r.Class, r.Detail = delivery.Permanent, fmt.Sprintf("%d: created, but the partner's id cannot be read from the answer: %v", r.Status, err)
	case !ok:
		r.Class, r.Detail = delivery.Permanent, fmt.Sprintf("%d: created, but the answer holds no partner id (see the create's id or id_from)", r.Status)
	default:
		r.IDMap = idmap.Write{Op: idmap.WriteSet, ID: id}
	}
	return r
}

// addCalls adds calls made earlier in the delivery to r's.
func addCalls(r result, calls int) result {
	if calls > 0 {
		r.Calls += calls
		r.noCall = false
	}
	return r
}

// Finds' outcomes.
const (
	notLooked = iota // the entity has no find request: nothing was asked
	notThere
	foundIt
)

// find looks e's record up by our key (the entity's find request) before a
// create is retried or a delete of a record whose create was not committed
// is sent: a 2xx with an id is found, a 2xx without one or a 404 is not
// there. Any other answer ends the delivery with it (fail). Without a find
// request nothing is asked (notLooked): a retried create then relies on the
// partner's idempotency header.
func (s *Sink) find(ctx context.Context, g delivery.Guard, e event.Event, ids profile.IDs) (id string, outcome int, fail *result) {
	rd, err := s.prof.p.RenderOp(profile.OpFind, e, ids)
	if errors.Is(err, profile.ErrNoRequest) {
		return "", notLooked, nil
	}
	if err != nil {
		r := noCallAnswer(delivery.Permanent, fmt.Sprintf("render find: %v", err))
		return "", 0, &r
	}
	rp := s.exchange(ctx, g, call{op: profile.OpFind, entity: e.Entity, r: rd, key: e.IdemKey(), traceParent: e.TraceParent})
	if rp.Status == 404 && !rp.unsettled {
		if _, ruled := s.prof.p.Judge(e.Entity, rp.Status, rp.header, rp.body, s.cfg.Now()); !ruled {
			return "", notThere, nil
		}
	}
	if rp.Class != delivery.Delivered {
		if rp.Class == delivery.Stale || rp.Class == delivery.ParentMissing {
			rp.Class = delivery.Transient // a find's answer says nothing of versions or parents
		}
		rp.Detail = "find: " + rp.Detail
		return "", 0, &rp.result
	}
	id, found, err := s.prof.p.CreatedID(e.Entity, profile.OpFind, rp.header, rp.body)
	if err != nil {
		r := rp.result
		r.Class, r.Detail = delivery.Permanent, fmt.Sprintf("find: %d: the answer cannot be read: %v", r.Status, err)
		return "", 0, &r
	}
	if !found {
		return "", notThere, nil
	}
	return id, foundIt, nil
}
