package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
)

// DeadFields are a dead letter's fields (contract §1): fields verbatim,
// streamsync's meta fields left out, at most 500 of them kept, plus
// dead_reason, dead_error, dead_attempts and dead_at from o. For callers
// that dead-letter an event in a script or transaction of their own.
func DeadFields(fields map[string]string, o handlers.Outcome, now time.Time) []any {
	return deadFields(fields, o, now)
}

// RowFields is the attempts-stream entry (streams.RowColumns) of step o of e, read
// from source: a stream entry id, or another name unique per event (an
// outbox row, a prepared event), so that a row written twice collapses.
func RowFields(source string, e event.Event, o handlers.Outcome, at time.Time, instance string) []any {
	return row(source, e, o, at, instance)
}

// ScriptLib is the Lua shared by the pipeline's scripts, for scripts of
// other packages that write attempt-log rows: vgt(a, b) compares decimal
// versions; row_from_fields(f, sid, step, now, instance) builds a row
// (streams.RowColumns) from an entry's flat field list.
const ScriptLib = luaLib

// DeadLetterDirect dead-letters an event that never was an entry of the
// events stream (an invalid outbox row): the dead letter, the step's row
// (when rows is true) and the step's count in one MULTI/EXEC, so all of them
// are written or none. o.Step is StepInvalid or StepDead.
func DeadLetterDirect(ctx context.Context, rdb redis.UniversalClient, k layout.Keys, source string, e event.Event,
	fields map[string]string, o handlers.Outcome, now time.Time, instance string, rows bool) error {
	pipe := rdb.TxPipeline()
	pipe.XAdd(ctx, &redis.XAddArgs{Stream: k.Dead, Values: DeadFields(fields, o, now)})
	if rows {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: k.Attempts, Values: RowFields(source, e, o, now, instance)})
	}
	pipe.HIncrBy(ctx, k.Steps, string(o.Step), 1)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("dead-letter %s (%s): %w", e.ID, source, err)
	}
	return nil
}
