package layout

import (
	"math"
	"strconv"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
)

const maxRowError = 1000

// RowID names a step's row: the entry it was read from, the step and the
// attempt. Writing the same step of the same entry again (after a crash)
// gives the same row_id, so the copies collapse.
func RowID(streamID string, step handlers.Step, attempt int) string {
	return streamID + ":" + string(step) + ":" + strconv.Itoa(attempt)
}

// RowFields is the attempts-stream entry (streams.RowColumns) of step o of
// e, read from streamID: a stream entry id, or another name unique per
// event (an outbox row, a prepared event), so that a row written twice
// collapses. Every value converts to its column (docs/operations.md): attempt and
// latency are capped at what UInt16 and UInt32 hold.
func RowFields(streamID string, e event.Event, o handlers.Outcome, at time.Time, instance string) []any {
	ms := at.UnixMilli()
	errText := o.Error
	if len(errText) > maxRowError {
		errText = errText[:maxRowError] + "…"
	}
	return []any{
		"ts", strconv.FormatInt(ms/1000, 10),
		"ts_ms", strconv.FormatInt(ms%1000, 10),
		"event_id", e.ID,
		"row_id", RowID(streamID, o.Step, o.Attempt),
		"stream_id", streamID,
		"account", e.Account,
		"entity", e.Entity,
		"key", e.Key,
		"parent_entity", e.ParentEntity,
		"parent_key", e.ParentKey,
		"chain_id", e.ID,
		"op", string(e.Op),
		"version", strconv.FormatInt(e.Version, 10),
		"attempt", strconv.Itoa(min(max(o.Attempt, 0), math.MaxUint16)),
		"step", string(o.Step),
		"http_status", strconv.Itoa(o.HTTPStatus),
		"latency_us", strconv.FormatInt(min(max(o.Latency.Microseconds(), 0), math.MaxUint32), 10),
		"error", errText,
		"instance", instance,
	}
}
