package deadarchive

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/streamsync/streamsync/internal/layout"
)

// Letter is one dead letter as it is archived: where it was, the fields
// operators filter on, and every field of the entry.
type Letter struct {
	Stream   string // the dead-letter stream (the shard's key name)
	Shard    int
	StreamID string // the entry's id in that stream
	// DeadAt is the entry's dead_at (unix ms), or, when it has none that
	// reads as a number, the time in its stream id.
	DeadAt   time.Time
	EventID  string // id
	Account  string
	Entity   string
	Key      string
	Reason   string // dead_reason
	Error    string // dead_error
	Attempts uint32 // dead_attempts; 0 when absent or not a number
	// Names and Values are every field of the entry in stream order, byte
	// for byte, the packed layout.MoreField unfolded in its place (one
	// that does not unfold stays as it is). The fields above are copies.
	Names, Values []string
	ArchivedAt    time.Time
	Instance      string // the process that archived it
}

// entry is one stream entry as XRANGE returns it: its id and its fields in
// order (a field name may repeat; a map would lose one).
type entry struct {
	id string
	kv []string
}

// streamMs is the unix ms in a stream id ("ms-seq").
func streamMs(id string) (int64, error) {
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stream id %q: %w", id, err)
	}
	return n, nil
}

// letterOf reads one entry of shard's dead-letter stream.
func letterOf(stream string, shard int, e entry) Letter {
	l := Letter{Stream: stream, Shard: shard, StreamID: e.id}
	for i := 0; i+1 < len(e.kv); i += 2 {
		name, value := e.kv[i], e.kv[i+1]
		if name == layout.MoreField {
			if kv, err := layout.UnpackFields(value); err == nil {
				for j := 0; j+1 < len(kv); j += 2 {
					l.Names, l.Values = append(l.Names, kv[j]), append(l.Values, kv[j+1])
				}
				continue
			}
		}
		l.Names, l.Values = append(l.Names, name), append(l.Values, value)
	}
	first := func(name string) (string, bool) {
		for i, n := range l.Names {
			if n == name {
				return l.Values[i], true
			}
		}
		return "", false
	}
	l.EventID, _ = first("id")
	l.Account, _ = first("account")
	l.Entity, _ = first("entity")
	l.Key, _ = first("key")
	l.Reason, _ = first("dead_reason")
	l.Error, _ = first("dead_error")
	if s, ok := first("dead_attempts"); ok {
		if n, err := strconv.ParseUint(s, 10, 32); err == nil {
			l.Attempts = uint32(n)
		}
	}
	ms, _ := streamMs(e.id)
	if s, ok := first("dead_at"); ok {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && inDateTime(n) {
			ms = n
		}
	}
	l.DeadAt = time.UnixMilli(min(max(ms, 0), maxDateTimeMs)).UTC()
	return l
}

// maxDateTimeMs is the last unix ms a ClickHouse DateTime holds (2106).
const maxDateTimeMs = (1<<32 - 1) * 1000

// inDateTime reports whether unix ms fits a ClickHouse DateTime: a dead_at
// that does not (only a writer with Redis access can make one) gives way
// to the entry id's time; the driver would store it wrapped around.
func inDateTime(ms int64) bool { return ms > 0 && ms <= maxDateTimeMs }

// parseRange reads an XRANGE reply: a list of [id, [name, value, …]].
func parseRange(reply any) ([]entry, error) {
	list, ok := reply.([]any)
	if !ok {
		return nil, fmt.Errorf("XRANGE answered %T", reply)
	}
	out := make([]entry, 0, len(list))
	for _, it := range list {
		pair, ok := it.([]any)
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("XRANGE entry %v", it)
		}
		id, ok := pair[0].(string)
		if !ok {
			return nil, fmt.Errorf("XRANGE entry id %v", pair[0])
		}
		var fields []any
		switch f := pair[1].(type) {
		case []any:
			fields = f
		case nil: // an entry deleted while a consumer group still references it
		default:
			return nil, fmt.Errorf("XRANGE entry %s fields %T", id, pair[1])
		}
		kv := make([]string, len(fields))
		for i, v := range fields {
			if kv[i], ok = v.(string); !ok {
				kv[i] = fmt.Sprint(v)
			}
		}
		out = append(out, entry{id: id, kv: kv})
	}
	return out, nil
}
