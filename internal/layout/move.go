package layout

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/handlers"
)

// moveDueScript moves up to ARGV[2] events whose due time has come from a
// ZSET back into the events stream, as new entries, with a row for the step
// ARGV[3] when rows are on. A member without a payload is dropped from the
// ZSET (its event was already re-entered). A payload that cannot be read
// back is dead-lettered (invalid) with its bytes in the field `raw`: the
// script never fails halfway, and one bad member never holds up the rest.
//
// KEYS[1] the ZSET (delayed or retry)   KEYS[2] payloads hash   KEYS[3] events stream
// KEYS[4] attempts stream               KEYS[5] steps hash      KEYS[6] dead stream
// ARGV[1] now, unix ms   ARGV[2] limit   ARGV[3] step for the row ("" = none)
// ARGV[4] instance       ARGV[5] "1": write rows
// ARGV[6] the partner the entry is re-entered for ("" = none): its
// _ss_for field, so that the other partners reading the stream pass it by
//
// Returns {the number of members taken from the ZSET, the due time (unix
// ms) of the earliest member left, or false when none is}.
var moveDueScript = redis.NewScript(luaLib + `
local now = tonumber(ARGV[1])
if not now or not tonumber(ARGV[2]) then return redis.error_reply('move: now and limit must be numbers') end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  local p = redis.call('HGET', KEYS[2], id)
  local f = p and decode_entry(p)
  -- nothing below can fail: f is a checked list of at most MAXV strings
  redis.call('ZREM', KEYS[1], id)
  if f and ARGV[6] ~= '' then
    local g = {}
    for i = 1, #f, 2 do
      if f[i] ~= '_ss_for' then g[#g + 1] = f[i]; g[#g + 1] = f[i + 1] end
    end
    g[#g + 1] = '_ss_for'; g[#g + 1] = ARGV[6]
    f = g
  end
  if f then
    local sid = redis.call('XADD', KEYS[3], '*', unpack(f))
    redis.call('HDEL', KEYS[2], id)
    if ARGV[3] ~= '' then
      if ARGV[5] == '1' then
        redis.call('XADD', KEYS[4], '*', unpack(row_from_fields(f, sid, ARGV[3], now, ARGV[4])))
      end
      redis.call('HINCRBY', KEYS[5], ARGV[3], 1)
    end
  elseif p then
    local did = redis.call('XADD', KEYS[6], '*', 'id', id, 'raw', p, 'dead_reason', 'invalid',
      'dead_error', 'its parked entry could not be read back', 'dead_attempts', '0', 'dead_at', ARGV[1])
    redis.call('HDEL', KEYS[2], id)
    if ARGV[5] == '1' then
      local row = row_from_fields({'id', id}, did, 'invalid', now, ARGV[4])
      row[36] = 'its parked entry could not be read back'
      redis.call('XADD', KEYS[4], '*', unpack(row))
    end
    redis.call('HINCRBY', KEYS[5], 'invalid', 1)
  end
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#ids, first[2] or false}
`)

// MoveDue moves up to limit members of zset (k.Delayed or k.Retry) whose
// due time has come by now back into k's events stream, with a row for
// step ("": none) when rows is on. It returns how many members it took from
// the ZSET and the due time (unix ms) of the earliest member left
// (math.MaxInt64: none).
func MoveDue(ctx context.Context, rdb redis.Scripter, k Keys, zset string, now time.Time, limit int, step handlers.Step, instance string, rows bool) (int, int64, error) {
	r := "0"
	if rows {
		r = "1"
	}
	res, err := moveDueScript.Run(ctx, rdb, []string{zset, k.Payloads, k.Events, k.Attempts, k.Steps, k.Dead},
		now.UnixMilli(), limit, string(step), instance, r, k.Target).Slice()
	if err != nil {
		return 0, -1, err
	}
	return moveAnswer(res)
}

// moveAnswer reads moveDueScript's {moved, earliest due or nil}.
func moveAnswer(res []any) (int, int64, error) {
	if len(res) != 2 {
		return 0, -1, fmt.Errorf("move answered %v", res)
	}
	n, ok := res[0].(int64)
	if !ok {
		return 0, -1, fmt.Errorf("move answered %v", res)
	}
	next := int64(math.MaxInt64)
	if s, ok := res[1].(string); ok {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, -1, fmt.Errorf("move: earliest due %q: %w", s, err)
		}
		next = int64(f)
	}
	return int(n), next, nil
}
