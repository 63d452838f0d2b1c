package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/redisretry"
)

// Parse validates ingest JSON objects (docs/events.md: the stream's field
// names, version and ts as numbers, data as an object) into events, stamping
// ts with now where an event has none. It returns the valid events and one
// Rejected per invalid object, naming its index and every problem.
func Parse(items []json.RawMessage, lim event.Limits, now time.Time) ([]event.Event, []Rejected) {
	events := make([]event.Event, 0, len(items))
	var rejected []Rejected
	ms := now.UnixMilli()
	for i, it := range items {
		e, err := parseOne(it, lim, ms, nil)
		if err != nil {
			rejected = append(rejected, Rejected{Index: i, ID: e.ID, Reason: err.Error()})
			continue
		}
		events = append(events, e)
	}
	return events, rejected
}

// parseOne validates one ingest JSON object into an event, ts stamped with
// ms where it has none. extra are further fields (name, value, …) its entry
// will carry, counted against event.max_bytes with it.
func parseOne(it json.RawMessage, lim event.Limits, ms int64, extra []any) (event.Event, error) {
	e, err := event.FromJSON(it, lim)
	if err != nil {
		return e, err
	}
	if e.TS == 0 {
		e.TS = ms // for end-to-end latency: when the event reached us
	}
	// What is appended is what the pipeline will read: validate exactly
	// those fields, as the pipeline does (a stamped ts adds bytes).
	return e, appendable(e, lim, extra)
}

// Append appends validated events to one events stream: the one append
// path of every producer streamsync runs (HTTP ingest, the outbox relay,
// confirmed prepared events, backfill, reconciliation repairs). More than one
// event go in one MULTI/EXEC, so Redis has all of them or none; nil means
// Redis has them.
func Append(ctx context.Context, rdb redis.UniversalClient, stream string, events []event.Event) error {
	return AppendRouted(ctx, rdb, func(string) string { return stream }, events)
}

// AppendRouted appends validated events to the events stream of each one's
// account (route: layout.Shards.Stream, docs/scaling.md): per stream one
// atomic pipelined call, all of that stream's events or none of them (a
// single event needs no MULTI). With shards a batch may span several
// streams, which on a Redis Cluster live in different slots and cannot share
// one MULTI: should one stream's call fail, the caller resends the batch and
// the copies already appended are skipped as duplicates (docs/events.md: a
// repeated id is stale).
func AppendRouted(ctx context.Context, rdb redis.UniversalClient, route func(account string) string, events []event.Event) error {
	return appendRouted(ctx, rdb, route, events, nil, Replicas{})
}

// AppendReplicated is AppendRouted that returns only once rep.N replicas
// have every stream's events too (WAIT; docs/reliability.md), else an error
// wrapping ErrNotReplicated. A transient error (a failover under way:
// READONLY, a reset connection …) is tried again with backoff first
// (internal/redisretry); the copies of a retried call are skipped as
// duplicates.
func AppendReplicated(ctx context.Context, rdb redis.UniversalClient, route func(account string) string, events []event.Event, rep Replicas) error {
	return appendRouted(ctx, rdb, route, events, nil, rep)
}

// appendRouted is AppendRouted with extra fields (name, value, …) added to
// every entry, waiting for rep.
func appendRouted(ctx context.Context, rdb redis.UniversalClient, route func(account string) string, events []event.Event, extra []any, rep Replicas) error {
	var order []string
	byStream := map[string][]event.Event{}
	for _, e := range events {
		st := route(e.Account)
		if _, seen := byStream[st]; !seen {
			order = append(order, st)
		}
		byStream[st] = append(byStream[st], e)
	}
	for _, st := range order {
		batch := byStream[st]
		err := redisretry.Do(ctx, func(ctx context.Context) error {
			// a single XADD is atomic by itself; more go in one MULTI
			return rep.exec(ctx, rdb, st, len(batch) > 1, func(pipe redis.Pipeliner) error {
				for _, e := range batch {
					pipe.XAdd(ctx, &redis.XAddArgs{Stream: st, Values: append(e.Fields(), extra...)})
				}
				return nil
			})
		})
		if err != nil {
			return fmt.Errorf("append %d events to %s: %w", len(batch), st, err)
		}
	}
	return nil
}

// Appendable reports whether e, appended as it is, is an event the
// pipeline takes (the check every append path makes before it appends).
func Appendable(e event.Event, lim event.Limits) error { return appendable(e, lim, nil) }

// appendable validates the stream fields e is appended as (with extra), the
// way the pipeline validates an entry it reads.
func appendable(e event.Event, lim event.Limits, extra []any) error {
	f := append(e.Fields(), extra...)
	values := make(map[string]any, len(f)/2)
	for i := 0; i < len(f); i += 2 {
		values[f[i].(string)] = f[i+1]
	}
	_, err := event.FromStream(values, lim)
	return err
}
