package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
)

// Parse validates ingest JSON objects (contract §1: the stream's field
// names, version and ts as numbers, data as an object) into events, stamping
// ts with now where an event has none. It returns the valid events and one
// Rejected per invalid object, naming its index and every problem.
func Parse(items []json.RawMessage, lim event.Limits, now time.Time) ([]event.Event, []Rejected) {
	events := make([]event.Event, 0, len(items))
	var rejected []Rejected
	ms := now.UnixMilli()
	for i, it := range items {
		e, err := event.FromJSON(it, lim)
		if err != nil {
			rejected = append(rejected, Rejected{Index: i, ID: e.ID, Reason: err.Error()})
			continue
		}
		if e.TS == 0 {
			e.TS = ms // for end-to-end latency: when the event reached us
		}
		events = append(events, e)
	}
	return events, rejected
}

// Append appends validated events to the events stream in one round trip:
// the one append path of every producer streamsync runs (HTTP ingest, the
// outbox relay, confirmed prepared events). More than one event go in one
// MULTI/EXEC, so Redis has all of them or none; nil means Redis has them.
func Append(ctx context.Context, rdb redis.UniversalClient, stream string, events []event.Event) error {
	if len(events) == 0 {
		return nil
	}
	pipe := rdb.TxPipeline()
	if len(events) == 1 {
		pipe = rdb.Pipeline() // a single XADD is atomic by itself
	}
	for _, e := range events {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: e.Fields()})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("append %d events to %s: %w", len(events), stream, err)
	}
	return nil
}
