package layout

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// trimScript trims a stream below what every consumer group has acked.
// For each group the first entry it may still need is its oldest pending
// entry, or, with nothing pending, the entry after its last-delivered-id;
// the stream is trimmed (XTRIM MINID, exact) below the lowest of these, and
// below ARGV[1]-0 (entries appended before that time), whichever is lower.
// Being one script, no group can move between the look and the trim.
//
// Then, when ARGV[2] > 0 and the stream is still longer than ARGV[2] (the
// hard bound, stream.max_len_hard), its oldest entries beyond the bound
// are trimmed whatever the groups still need, at most ARGV[3] of them: for
// each group, how many of those it had not read (above its
// last-delivered-id) and how many it had read and not acked (pending) is
// returned, counted before they go.
//
// KEYS[1] the stream
// ARGV[1] unix ms: entries appended at or after it are kept
// ARGV[2] the hard bound on the stream's length; 0: none
// ARGV[3] the most entries trimmed past the bound in this call
//
// Returns {removed, more, group, unread, pending, group, …}: the entries
// removed in all, more = 1 when the stream is still past the hard bound,
// then one triple per group that lost entries it had not acked.
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

if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0} end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return {0, 0} end
local bound = ARGV[1] .. '-0'
local infos = {}
for _, g in ipairs(groups) do
  local m = {}
  for i = 1, #g, 2 do m[g[i]] = g[i + 1] end
  infos[#infos + 1] = m
  local need
  if tonumber(m['pending']) > 0 then
    need = redis.call('XPENDING', KEYS[1], m['name'])[2]
  else
    need = after(m['last-delivered-id'])
  end
  if idlt(need, bound) then bound = need end
end
local out = {redis.call('XTRIM', KEYS[1], 'MINID', bound), 0}
local hard = tonumber(ARGV[2])
if hard <= 0 then return out end
local len = redis.call('XLEN', KEYS[1])
if len <= hard then return out end
local n = math.min(len - hard, tonumber(ARGV[3]))
local ids = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', n)
local last = ids[#ids][1]
for _, m in ipairs(infos) do
  local unread = 0
  for i = #ids, 1, -1 do
    if not idlt(m['last-delivered-id'], ids[i][1]) then break end
    unread = unread + 1
  end
  local pending = 0
  if tonumber(m['pending']) > 0 then
    pending = #redis.call('XPENDING', KEYS[1], m['name'], ids[1][1], last, n)
  end
  if unread + pending > 0 then
    out[#out + 1] = m['name']
    out[#out + 1] = unread
    out[#out + 1] = pending
  end
end
out[1] = out[1] + redis.call('XTRIM', KEYS[1], 'MINID', after(last))
if len - n > hard then out[2] = 1 end
return out
`)

// DefaultTrimPastBound is the most entries one TrimAcked call trims past
// the hard bound; a caller calls again while TrimResult.More.
const DefaultTrimPastBound = 1000

// GroupLoss is what trimming at the hard bound took from one consumer
// group: entries it had not read yet, and entries it had read and not
// acked (still pending).
type GroupLoss struct {
	Group           string
	Unread, Pending int64
}

// TrimResult is what one TrimAcked call did.
type TrimResult struct {
	// Removed is the entries removed in all.
	Removed int64
	// More: the stream is still longer than the hard bound.
	More bool
	// Lost lists, per group, the entries it had not acked that were
	// trimmed at the hard bound.
	Lost []GroupLoss
}

// TrimAcked trims stream below what every consumer group has acked and
// below keepBelow (unix ms), in one call (see trimScript); then, when
// maxLen > 0 and the stream is longer, at most pastBound of its oldest
// entries beyond maxLen whatever the groups still need, saying which group
// lost how many it had not acked.
func TrimAcked(ctx context.Context, rdb redis.Scripter, stream string, keepBelow, maxLen int64, pastBound int) (TrimResult, error) {
	if pastBound <= 0 {
		pastBound = DefaultTrimPastBound
	}
	v, err := trimScript.Run(ctx, rdb, []string{stream}, keepBelow, maxLen, pastBound).Slice()
	if err != nil {
		return TrimResult{}, err
	}
	if len(v) < 2 {
		return TrimResult{}, fmt.Errorf("trim %s: answered %v", stream, v)
	}
	var r TrimResult
	r.Removed, _ = v[0].(int64)
	more, _ := v[1].(int64)
	r.More = more == 1
	for i := 2; i+2 < len(v); i += 3 {
		g, _ := v[i].(string)
		u, _ := v[i+1].(int64)
		p, _ := v[i+2].(int64)
		r.Lost = append(r.Lost, GroupLoss{Group: g, Unread: u, Pending: p})
	}
	return r, nil
}
