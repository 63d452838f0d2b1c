package layout

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
)

// DeadFields are the entry's own fields verbatim plus dead_reason,
// dead_error, dead_attempts and dead_at (docs/events.md). Fields past
// maxFlatFields are kept packed in MoreField (ExpandFields unfolds them).
func DeadFields(fields map[string]string, o handlers.Outcome, now time.Time) []any {
	kv := FlatFields(fields, func(k string) bool {
		return !handlers.IsMeta(k) && !strings.HasPrefix(k, "dead_")
	})
	f := make([]any, 0, len(kv)+8)
	for _, s := range kv {
		f = append(f, s)
	}
	if len(f) == 0 {
		f = append(f, "id", "") // a stream entry needs a field; an unreadable one keeps what it can
	}
	return append(f, "dead_reason", o.DeadReason, "dead_error", o.Error,
		"dead_attempts", strconv.Itoa(o.Attempt), "dead_at", strconv.FormatInt(now.UnixMilli(), 10))
}

// DeadLetterDirect dead-letters an event that never was an entry of the
// events stream (an invalid outbox row): the dead letter, the step's row
// (when rows is true) and the step's count in one MULTI/EXEC, so all of them
// are written or none. o.Step is handlers.StepInvalid or handlers.StepDead.
func DeadLetterDirect(ctx context.Context, rdb redis.UniversalClient, k Keys, source string, e event.Event,
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
