package backfill

import (
	"context"
	"fmt"
	"strconv"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/ingest"
	"github.com/streamsync/streamsync/source"
)

// eventOf is the upsert a record becomes: id bf-<run_id>-<n>, origin
// backfill, the record's version, data and parent (docs/backfill.md).
func eventOf(runID string, n int64, r source.Record, ts int64) event.Event {
	e := event.Event{ID: "bf-" + runID + "-" + strconv.FormatInt(n, 10), Account: r.Account, Entity: r.Entity, Key: r.Key,
		Op: event.OpUpsert, Version: r.Version, Data: r.Data, Origin: Origin, TS: ts}
	if r.Parent != nil {
		e.ParentEntity, e.ParentKey = r.Parent.Entity, r.Parent.Key
	}
	return e
}

// append appends one batch of records as upserts through ingest.Append,
// the one append path of every producer (one pipelined round trip), and
// reports how many were appended; a record that is not a valid event is
// logged and skipped. Event numbers are the run's: after a crash between
// the append and the position's save, a resumed run appends the same
// records under the same ids again, which the pipeline skips as stale.
func (b *Backfill) append(ctx context.Context, st *state, recs []source.Record, sum *Summary) (int, error) {
	ts := b.cfg.Now().UnixMilli()
	events := make([]event.Event, 0, len(recs))
	n := st.N
	for _, r := range recs {
		n++
		e := eventOf(b.runID, n, r, ts)
		if err := event.Validate(e); err != nil {
			b.cfg.Logger.Warn("backfill: record skipped", "entity", r.Entity, "key", r.Key, "err", err)
			sum.Skipped++
			continue
		}
		if size := entrySize(e) + len(b.forField()); size > maxBytes(b.cfg.Limits) {
			b.cfg.Logger.Warn("backfill: record skipped", "entity", r.Entity, "key", r.Key,
				"err", fmt.Sprintf("entry is %d bytes, more than event.max_bytes", size))
			sum.Skipped++
			continue
		}
		events = append(events, e)
	}
	if err := ingest.AppendRoutedFor(ctx, b.rdb, b.route, events, b.cfg.For); err != nil {
		return 0, fmt.Errorf("backfill %s: %w", b.runID, err)
	}
	st.N = n
	return len(events), nil
}

func maxBytes(l event.Limits) int {
	if l.MaxBytes <= 0 {
		return event.DefaultMaxBytes
	}
	return l.MaxBytes
}

// entrySize is the entry's size as event.max_bytes counts it: every field
// name and value.
func entrySize(e event.Event) int {
	size := 0
	for _, f := range e.Fields() {
		size += len(fmt.Sprint(f))
	}
	return size
}

// route is where an account's upserts go.
func (b *Backfill) route(account string) string {
	if b.cfg.Route != nil {
		return b.cfg.Route(account)
	}
	return b.cfg.Stream
}

// forField is the bytes the partner's _ss_for field adds to an entry.
func (b *Backfill) forField() string {
	if b.cfg.For == "" {
		return ""
	}
	return handlers.MetaFor + b.cfg.For
}
