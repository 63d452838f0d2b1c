package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/redisretry"
)

// Prepared keeps prepared events (docs/producers.md) in Redis: Prepare stores
// them, Release confirms, cancels or dead-letters one of them in one atomic
// script, so that a crash at any point loses none and a release of an event
// released already does nothing.
type Prepared struct {
	rdb      redis.UniversalClient
	keys     layout.Keys
	timeout  time.Duration
	instance string
	rows     bool
	replicas Replicas // a prepare's 202 and a confirm's 200 wait for them
}

// Release actions.
const (
	ActionConfirm = "confirm"
	ActionCancel  = "cancel"
	ActionDead    = "dead"
)

// preparedSource names the prepared event kept under field (PreparedField)
// in the attempt log's stream_id, and so in the row_id of its prepared,
// cancelled and dead rows (a confirmed row names the entry it became):
// "prepared@<producer>:<id>" for a producer's event, so that one id
// prepared by two producers has rows of its own — equal row_ids collapse in
// ClickHouse — and "prepared:<id>" for an event of no producer, as before
// producers had tokens. A producer's name holds no ':' (config validates
// ingest.tokens' names as [A-Za-z0-9_.-]{1,64}), so no two of these meet.
func preparedSource(field string) string {
	producer, id := splitPreparedField(field)
	if producer == "" {
		return "prepared:" + id
	}
	return "prepared@" + producer + ":" + id
}

// PreparedField is where a producer's prepared event id is kept: its field
// in the prepared hash and its member of the due ZSET. Each producer has
// ids of its own, so that one producer can neither see, confirm, cancel nor
// replace another's prepared events (docs/security.md): the field is the
// producer's name, a NUL byte and the id — no event id holds a NUL byte (a
// control character makes an event invalid). Events from no producer (an
// open ingest, and every event prepared before producers had tokens) are
// kept under their bare id.
func PreparedField(producer, id string) string {
	if producer == "" {
		return id
	}
	return producer + "\x00" + id
}

// splitPreparedField is PreparedField's producer and event id.
func splitPreparedField(field string) (producer, id string) {
	if p, id, ok := strings.Cut(field, "\x00"); ok {
		return p, id
	}
	return "", field
}

// Prepare keeps events of producer (empty: none) as prepared, due for a
// check-back timeout after now, with a `prepared` row each; all of them or
// none (one MULTI). A producer's entries carry ProducerField. Preparing an
// id again replaces that producer's event and restarts its clock.
func (p *Prepared) Prepare(ctx context.Context, events []event.Event, producer string, now time.Time) error {
	err := redisretry.Do(ctx, func(ctx context.Context) error {
		return p.replicas.exec(ctx, p.rdb, p.keys.Prepared, true, func(pipe redis.Pipeliner) error { return p.prepare(ctx, pipe, events, producer, now) })
	})
	if err != nil {
		return fmt.Errorf("prepare %d events: %w", len(events), err)
	}
	return nil
}

// prepare queues the writes of Prepare on pipe.
func (p *Prepared) prepare(ctx context.Context, pipe redis.Pipeliner, events []event.Event, producer string, now time.Time) error {
	due := float64(now.Add(p.timeout).UnixMilli())
	for _, e := range events {
		f := append(e.Fields(), producerFields(producer)...)
		s := make([]string, len(f))
		for i, v := range f {
			s[i] = v.(string)
		}
		b, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("prepare %s: %w", e.ID, err)
		}
		field := PreparedField(producer, e.ID)
		pipe.HSet(ctx, p.keys.Prepared, field, b)
		pipe.ZAdd(ctx, p.keys.PreparedDue, redis.Z{Score: due, Member: field})
		pipe.HDel(ctx, p.keys.PreparedChecks, field)
		if p.rows {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: p.keys.Attempts,
				Values: layout.RowFields(preparedSource(field), e, handlers.Outcome{Step: handlers.StepPrepared}, now, p.instance)})
		}
		pipe.HIncrBy(ctx, p.keys.Steps, string(handlers.StepPrepared), 1)
	}
	return nil
}

// producerFields are the entry fields that name producer: none for no
// producer.
func producerFields(producer string) []any {
	if producer == "" {
		return nil
	}
	return []any{ProducerField, producer}
}

// Release confirms (ActionConfirm: appended to the events stream), cancels
// (ActionCancel: dropped) or dead-letters (ActionDead: dead_reason
// unconfirmed, deadError as dead_error) the prepared event kept under field
// (PreparedField). It reports false when it is not prepared (never was, or
// was released already).
func (p *Prepared) Release(ctx context.Context, field, action, deadError string, now time.Time) (bool, error) {
	ok, err := layout.ReleasePrepared(ctx, p.rdb, p.keys, p.release(field, action, deadError, now))
	if err != nil {
		return false, fmt.Errorf("%s prepared event %s: %w", action, fieldName(field), err)
	}
	return ok, nil
}

// release is the release of the prepared event kept under field.
func (p *Prepared) release(field, action, deadError string, now time.Time) layout.PreparedRelease {
	return layout.PreparedRelease{Field: field, Action: action, DeadError: deadError, Now: now,
		Instance: p.instance, Rows: p.rows, Source: preparedSource(field)}
}

// fieldName shows a prepared field in errors and logs: "producer/id".
func fieldName(field string) string {
	if producer, id := splitPreparedField(field); producer != "" {
		return producer + "/" + id
	}
	return field
}

// releaseChunk is how many releases go in one pipelined round trip.
const releaseChunk = 100

// ReleaseMany is Release for many event ids of producer (empty: none),
// pipelined a chunk at a time; it returns how many were released and the
// ids that were not prepared by that producer (another producer's are left
// as they are). With redis.wait_replicas the releases and their WAIT share
// one connection; fewer replicas in time is an error wrapping
// ErrNotReplicated (the releases stand: a confirm sent again names them
// unknown).
func (p *Prepared) ReleaseMany(ctx context.Context, ids []string, action, producer string, now time.Time) (released int, unknown []string, err error) {
	if p.replicas.N <= 0 {
		return p.releaseMany(ctx, p.rdb, ids, action, producer, now)
	}
	err = p.replicas.onConn(ctx, p.rdb, p.keys.Prepared, func(c *redis.Conn) error {
		var err error
		released, unknown, err = p.releaseMany(ctx, c, ids, action, producer, now)
		return err
	})
	return released, unknown, err
}

// releaser is a Redis client or one of its connections: scripts run whole,
// and pipelines.
type releaser interface {
	redis.Scripter
	Pipeline() redis.Pipeliner
}

// releaseMany is ReleaseMany through rdb.
func (p *Prepared) releaseMany(ctx context.Context, rdb releaser, ids []string, action, producer string, now time.Time) (int, []string, error) {
	if err := layout.LoadReleasePrepared(ctx, rdb); err != nil {
		return 0, nil, fmt.Errorf("%s prepared events: %w", action, err)
	}
	released, unknown := 0, []string{}
	for start := 0; start < len(ids); start += releaseChunk {
		chunk := ids[start:min(start+releaseChunk, len(ids))]
		pipe := rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(chunk))
		for i, id := range chunk {
			cmds[i] = layout.ReleasePreparedIn(ctx, pipe, p.keys, p.release(PreparedField(producer, id), action, "", now))
		}
		_, _ = pipe.Exec(ctx) // errors are read per command below
		for i, c := range cmds {
			n, err := c.Int()
			if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
				// the script was flushed meanwhile: send it whole
				ok, rerr := layout.ReleasePrepared(ctx, rdb, p.keys, p.release(PreparedField(producer, chunk[i]), action, "", now))
				n, err = 0, rerr
				if ok {
					n = 1
				}
			}
			if err != nil {
				return released, unknown, fmt.Errorf("%s prepared event %s: %w", action, chunk[i], err)
			}
			if n == 1 {
				released++
			} else {
				unknown = append(unknown, chunk[i])
			}
		}
	}
	return released, unknown, nil
}

// claimDue takes up to limit events whose check-back is due at now, for
// hold (after which another instance may take them); it returns their
// fields (PreparedField).
func (p *Prepared) claimDue(ctx context.Context, now time.Time, limit int, hold time.Duration) ([]string, error) {
	return layout.ClaimDuePrepared(ctx, p.rdb, p.keys, now, limit, now.Add(hold))
}

// recheck counts a check-back that did not settle the prepared event kept
// under field and sets its next due time (backoff from initial doubling to
// max); it returns the check-backs so far, -1 when it is no longer
// prepared.
func (p *Prepared) recheck(ctx context.Context, field string, now time.Time, initial, max time.Duration) (int, error) {
	n, err := layout.RecheckPrepared(ctx, p.rdb, p.keys, field, now, initial, max)
	if err != nil {
		return 0, fmt.Errorf("recheck prepared event %s: %w", fieldName(field), err)
	}
	return n, nil
}
