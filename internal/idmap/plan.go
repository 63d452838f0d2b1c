package idmap

import (
	"context"
	"time"

	"github.com/streamsync/streamsync/event"
)

// Action is what the sender does for one event of an entity whose partner
// assigns ids.
type Action int

const (
	// Update: the partner has the record under ID; send the update (an
	// upsert) or the delete.
	Update Action = iota + 1
	// Create: the partner never got the record; send the create.
	Create
	// FindThenCreate: a create was sent before and never committed (its
	// answer lost, or the process killed); look the record up by our key
	// first and update what is found, else create.
	FindThenCreate
	// FindThenDelete: as FindThenCreate, for a delete: delete what is
	// found, else nothing is to be deleted.
	FindThenDelete
	// Nothing: a delete of a record the partner never got; it is
	// delivered with nothing sent.
	Nothing
	// Wait: another event's create of the record is in flight (until
	// Plan.Wait has passed); try again then.
	Wait
	// Stale: the record was deleted at a version not lower than this
	// event's; skip it as stale.
	Stale
)

func (a Action) String() string {
	switch a {
	case Update:
		return "update"
	case Create:
		return "create"
	case FindThenCreate:
		return "find_then_create"
	case FindThenDelete:
		return "find_then_delete"
	case Nothing:
		return "nothing"
	case Wait:
		return "wait"
	case Stale:
		return "stale"
	}
	return "unknown"
}

// Plan is Begin's decision.
type Plan struct {
	Action Action
	ID     string        // the partner's id (Update)
	Wait   time.Duration // Wait
}

// Write is what the commit records in the id map together with a
// delivered event (handlers.Outcome carries it to internal/layout).
type Write struct {
	// Op is "" (nothing), "set" (ID is the partner's id of the record) or
	// "gone" (the record is deleted at the partner as of the event's
	// version).
	Op string
	ID string
}

// The ops of a Write.
const (
	WriteSet  = "set"
	WriteGone = "gone"
)

// Map is the id map of one partner, sharded like the ledger.
type Map interface {
	// GetIn is the partner's id of a record of account (a child's parent
	// is in the child's account, so in its shard); "" when it has none
	// (never created, a create not committed, or deleted).
	GetIn(ctx context.Context, account, entity, key string) (string, error)
	// Begin decides what e (an upsert or a delete of an entity whose
	// partner assigns ids) sends, and notes a create about to be sent
	// (held for hold: a delete waits that long for it) or a delete that
	// finds nothing, in one atomic step; now is the clock's.
	Begin(ctx context.Context, e event.Event, now time.Time, hold time.Duration) (Plan, error)
}
