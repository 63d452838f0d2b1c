package twoway

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/layout"
)

// undoScript puts a record's agreement back as it was before a write that
// failed, unless something changed it since the write was recorded.
//
// KEYS[1] the entity's Agreed hash
// ARGV[1] record key  ARGV[2] the value the write recorded  ARGV[3] the value before ("" none)
var undoScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
return 1
`)

// pending is the content a write is about to send, recorded in e's
// agreement, and the agreement it replaced.
type pending struct {
	e      event.Event
	before layout.Agreement
	wrote  layout.Agreement
}

// recordPending records the hash of e's content in its agreement before e
// is written (Sender), keeping what it replaces for undo.
func (p *Pair) recordPending(ctx context.Context, e event.Event) (pending, error) {
	before, err := layout.ReadAgreement(ctx, p.rdb, p.cfg.Keys.For(e.Account), e.Entity, e.Key)
	if err != nil {
		return pending{}, err
	}
	h := p.hash(e)
	// the writer too: should this process die before the answer, the
	// event's redelivery is known for itself, not taken for an echo
	k := p.cfg.Keys.For(e.Account)
	if err := layout.AgreeWriter(ctx, p.rdb, k, e.Entity, e.Key, h, 0, 0, e.ID); err != nil {
		return pending{}, err
	}
	return pending{e: e, before: before, wrote: layout.Agreement{Found: true, Hash: h, Ours: before.Ours, Theirs: before.Theirs, Writer: e.ID}}, nil
}

// undo puts the agreement back as it was before a write that failed, so
// that the write's retry (or replay) is not taken for an echo of itself,
// and the other side's changes are still compared with what both sides
// really hold. An agreement changed since (an echo that came anyway, the
// other direction's write) is left as it is.
func (p *Pair) undo(ctx context.Context, w pending) error {
	was := ""
	if w.before.Found {
		was = w.before.String()
	}
	k := p.cfg.Keys.For(w.e.Account)
	if err := undoScript.Run(ctx, p.rdb, []string{k.Agreed(w.e.Entity)}, w.e.Key, w.wrote.String(), was).Err(); err != nil {
		return fmt.Errorf("agreement %s/%s: %w", w.e.Entity, w.e.Key, err)
	}
	return nil
}
