package layout

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// replayScript re-enters one dead letter as a new entry of the events
// stream with the fields the caller built from it (its own fields without
// the dead_* ones, MoreField kept packed, plus _ss_replay=1 and the
// replay's proof); the dead
// letter is deleted, the record's dead state cleared, and a `replayed` row
// written. The dead letter is looked up first: a stream entry never
// changes, so the fields read before still hold if it is there.
//
// KEYS[1] dead stream   KEYS[2] events stream   KEYS[3] attempts stream
// KEYS[4] steps hash    KEYS[5] state hash of the entry's entity
// ARGV[1] dead entry id   ARGV[2] now, unix ms   ARGV[3] instance   ARGV[4] "1": write rows
// ARGV[5 ..] the new entry's name/value pairs (at most MAXV values)
//
// Returns the new entry's id, or false when the dead letter is gone.
var replayScript = redis.NewScript(luaLib + `
local nv = #ARGV - 4
if nv < 2 or nv % 2 ~= 0 or nv > MAXV or not tonumber(ARGV[2]) then
  return redis.error_reply('replay: ' .. nv .. ' field values; want an even number from 2 to ' .. MAXV)
end
local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #e == 0 then return false end
local f, id, key = {}, '', ''
for i = 5, #ARGV, 2 do
  f[#f + 1] = ARGV[i]; f[#f + 1] = ARGV[i + 1]
  if ARGV[i] == 'id' then id = ARGV[i + 1] end
  if ARGV[i] == 'key' then key = ARGV[i + 1] end
end
local sid = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 5, #ARGV))
redis.call('XDEL', KEYS[1], ARGV[1])
local s = redis.call('HGET', KEYS[5], key)
if s and s == 'dead:' .. id then redis.call('HDEL', KEYS[5], key) end
if ARGV[4] == '1' then
  redis.call('XADD', KEYS[3], '*', unpack(row_from_fields(f, sid, 'replayed', tonumber(ARGV[2]), ARGV[3])))
end
redis.call('HINCRBY', KEYS[4], 'replayed', 1)
return sid
`)

// Replay re-enters the dead letter deadID of shard k as a new entry of its
// events stream made of fields (name/value pairs: see replayScript), clears
// the dead state of its record (of entity) and writes a `replayed` row when
// rows is on. It reports false when the dead letter is gone.
func Replay(ctx context.Context, rdb redis.Scripter, k Keys, deadID, entity string, now time.Time, instance string, rows bool, fields []string) (bool, error) {
	r := "0"
	if rows {
		r = "1"
	}
	keys := []string{k.Dead, k.Events, k.Attempts, k.Steps, k.State(entity)}
	args := []any{deadID, now.UnixMilli(), instance, r}
	for _, s := range fields {
		args = append(args, s)
	}
	err := replayScript.Run(ctx, rdb, keys, args...).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return err == nil, err
}
