package streams

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// AutoClaim is one XAUTOCLAIM of up to n entries left pending for at least
// minIdle, from start: the entries claimed, the next start id, and the ids
// of the entries deleted from the stream that Redis dropped from the
// pending list meanwhile (Redis 7.0; go-redis' XAutoClaim does not return
// them, and an entry lost that way must not go unnoticed).
func AutoClaim(ctx context.Context, rdb redis.UniversalClient, stream, group, consumer string, minIdle time.Duration, start string, n int) ([]redis.XMessage, string, []string, error) {
	v, err := rdb.Do(ctx, "XAUTOCLAIM", stream, group, consumer, minIdle.Milliseconds(), start, "COUNT", n).Result()
	if err != nil {
		return nil, "", nil, err
	}
	return ParseAutoClaim(v)
}

// ParseAutoClaim reads XAUTOCLAIM's answer — {next start id, entries,
// deleted ids}, the third part from Redis 7.0 on — as AutoClaim returns it.
// An entry without fields (Redis before 7.0 answers a deleted one so) is
// returned with no Values.
func ParseAutoClaim(answer any) ([]redis.XMessage, string, []string, error) {
	v, ok := answer.([]any)
	if !ok || len(v) < 2 {
		return nil, "", nil, fmt.Errorf("xautoclaim answered %v", answer)
	}
	next, _ := v[0].(string)
	entries, _ := v[1].([]any)
	msgs := make([]redis.XMessage, 0, len(entries))
	for _, e := range entries {
		pair, ok := e.([]any)
		if !ok || len(pair) != 2 {
			return nil, "", nil, fmt.Errorf("xautoclaim answered an entry %v", e)
		}
		id, _ := pair[0].(string)
		m := redis.XMessage{ID: id}
		if kv, ok := pair[1].([]any); ok {
			m.Values = make(map[string]any, len(kv)/2)
			for i := 0; i+1 < len(kv); i += 2 {
				k, _ := kv[i].(string)
				m.Values[k] = kv[i+1]
			}
		}
		msgs = append(msgs, m)
	}
	var deleted []string
	if len(v) > 2 {
		gone, _ := v[2].([]any)
		for _, g := range gone {
			if id, ok := g.(string); ok {
				deleted = append(deleted, id)
			}
		}
	}
	return msgs, next, deleted, nil
}

// ClaimCursor is where the next XAUTOCLAIM pass over one group's pending
// list of one stream starts: the id the last pass answered, so that passes
// walk the whole list in turn instead of starting at 0-0 each time (entries
// claimed at the front that stay pending — a busy account, a slow call —
// would otherwise be claimed again and again while those behind them
// starve). It wraps to 0-0 only when XAUTOCLAIM answers 0-0 (the list's
// end). The zero value starts at 0-0; not safe for concurrent use.
type ClaimCursor struct {
	next string
}

// Start is the start id of the next pass.
func (c *ClaimCursor) Start() string {
	if c.next == "" {
		return "0-0"
	}
	return c.next
}

// Advance takes the next start id XAUTOCLAIM answered; "" (an answer
// without one) and "0-0" start the next pass at the list's front.
func (c *ClaimCursor) Advance(next string) {
	c.next = next
}

// Reset starts the next pass at the list's front.
func (c *ClaimCursor) Reset() { c.next = "" }
