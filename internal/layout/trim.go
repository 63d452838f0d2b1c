package layout

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// trimScript trims a stream below what every consumer group has acked.
// For each group the first entry it may still need is its oldest pending
// entry, or, with nothing pending, the entry after its last-delivered-id;
// the stream is trimmed (XTRIM MINID, exact) below the lowest of these, and
// below ARGV[1]-0 (entries appended before that time), whichever is lower.
// Being one script, no group can move between the look and the trim.
//
// KEYS[1] the stream
// ARGV[1] unix ms: entries appended at or after it are kept
//
// Returns the number of entries removed (0 without a stream or a group).
var trimScript = redis.NewScript(`
-- idlt: stream id a < stream id b ("ms-seq", decimal, no leading zeros)
local function numlt(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end
local function idlt(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if am ~= bm then return numlt(am, bm) end
  return numlt(as, bs)
end
-- after: the id just above id (id itself when its sequence is too long to add to exactly)
local function after(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  if #seq > 13 then return id end
  return ms .. '-' .. string.format('%d', tonumber(seq) + 1)
end

if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end
local bound = ARGV[1] .. '-0'
for _, g in ipairs(groups) do
  local m = {}
  for i = 1, #g, 2 do m[g[i]] = g[i + 1] end
  local need
  if tonumber(m['pending']) > 0 then
    need = redis.call('XPENDING', KEYS[1], m['name'])[2]
  else
    need = after(m['last-delivered-id'])
  end
  if idlt(need, bound) then bound = need end
end
return redis.call('XTRIM', KEYS[1], 'MINID', bound)
`)

// TrimAcked trims stream below what every consumer group has acked and
// below keepBelow (unix ms), in one call (see trimScript); it returns how
// many entries it removed.
func TrimAcked(ctx context.Context, rdb redis.Scripter, stream string, keepBelow int64) (int64, error) {
	return trimScript.Run(ctx, rdb, []string{stream}, keepBelow).Int64()
}
