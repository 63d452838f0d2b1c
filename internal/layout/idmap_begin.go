package layout

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/idmap"
)

// idmapBeginScript decides, in one step, what an event of an entity whose
// partner assigns ids sends (idmap.Map.Begin), and notes a create about to
// be sent or a delete that finds nothing, so that two processes never race
// a create against a delete (docs/operations.md, "The id map"). The entry's
// values are those of Keys.IDMap.
//
//	entry                              upsert                          delete
//	i|id                               update id                       update id (delete by it)
//	c|until|v|eid, until > now         wait until−now; our own event   wait until−now
//	                                   (eid = ours): hold, find_then_create
//	c|…, until ≤ now (never committed) hold, find_then_create          find_then_delete (no write)
//	none, no ledger entry              hold, create                    g|version, nothing
//	none, a ledger entry               hold, find_then_create          find_then_delete (no write)
//	g|gv                               gv ≥ version: stale;            g|max(gv, version), nothing
//	                                   else hold, find_then_create (made again after a delete: an archived one is found)
//
// "hold" writes c|ARGV[5]|ARGV[3]|ARGV[4].
//
// No entry while the ledger holds one for the record means the partner got
// the record from us and the id map lost its id (a Redis failover or an AOF
// restart rolled the entry back, or it was dropped by hand): the record is
// looked up by our key before anything is created, never made twice
// (docs/reliability.md, "After a rollback").
//
// KEYS[1] the entity's id map hash   KEYS[2] the entity's ledger hash
// ARGV[1] record key   ARGV[2] op: upsert|delete   ARGV[3] the event's version (decimal)
// ARGV[4] the event's id   ARGV[5] hold until, unix ms   ARGV[6] now, unix ms
//
// Returns {action (idmap.Action's text), the partner's id or "", wait ms};
// an error, before any write, for arguments or an entry it cannot read.
var idmapBeginScript = redis.NewScript(luaLib + `
local key, op, ver, eid, hold_until = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local now = tonumber(ARGV[6])
if not string.match(ver, '^%d+$') or not string.match(hold_until, '^%d+$') or not now or (op ~= 'upsert' and op ~= 'delete') then
  return redis.error_reply('idmap begin: bad arguments (op ' .. op .. ', version ' .. ver .. ')')
end
local cur = redis.call('HGET', KEYS[1], key)
local kind, rest
if cur then
  kind, rest = string.match(cur, '^([icg])|(.*)$')
  if not kind or rest == '' then
    return redis.error_reply('idmap begin: unreadable id map entry ' .. string.format('%q', cur) .. ' of ' .. key)
  end
end
local function hold() redis.call('HSET', KEYS[1], key, 'c|' .. hold_until .. '|' .. ver .. '|' .. eid) end

if kind == 'i' then return {'update', rest, 0} end
if kind == 'c' then
  local untl, ceid = string.match(rest, '^(%d+)|%d*|(.*)$')
  if not untl then
    return redis.error_reply('idmap begin: unreadable id map entry ' .. string.format('%q', cur) .. ' of ' .. key)
  end
  local left = tonumber(untl) - now
  if left > 0 and (op == 'delete' or ceid ~= eid) then return {'wait', '', left} end
  if op == 'delete' then return {'find_then_delete', '', 0} end
  hold()
  return {'find_then_create', '', 0}
end
local gv
if kind == 'g' then
  gv = string.match(rest, '^(%d+)$')
  if not gv then
    return redis.error_reply('idmap begin: unreadable id map entry ' .. string.format('%q', cur) .. ' of ' .. key)
  end
end
-- no entry, yet the ledger says the partner got the record: the entry was lost
local lost = not kind and redis.call('HEXISTS', KEYS[2], key) == 1
if op == 'upsert' then
  if gv and not vgt(ver, gv) then return {'stale', '', 0} end
  hold()
  -- a record made again after a delete: a partner that archives keeps the
  -- old one, which a find turns up (reopened by the update, not made twice)
  if gv or lost then return {'find_then_create', '', 0} end
  return {'create', '', 0}
end
if lost then return {'find_then_delete', '', 0} end
if gv and vgt(gv, ver) then ver = gv end
redis.call('HSET', KEYS[1], key, 'g|' .. ver)
return {'nothing', '', 0}
`)

// beginActions reads idmapBeginScript's action texts.
var beginActions = map[string]idmap.Action{
	"update": idmap.Update, "create": idmap.Create, "find_then_create": idmap.FindThenCreate,
	"find_then_delete": idmap.FindThenDelete, "nothing": idmap.Nothing, "wait": idmap.Wait, "stale": idmap.Stale,
}

// IDMapBegin decides what e (an upsert or a delete) sends, in the id map
// of e's entity in shard k, and notes a create about to be sent (held
// until now+hold: a delete of the record waits that long for its commit)
// or a delete that finds nothing, in one atomic step (idmapBeginScript).
// hold must be positive and longer than a create can take to be answered
// and committed.
func IDMapBegin(ctx context.Context, rdb redis.Scripter, k Keys, e event.Event, now time.Time, hold time.Duration) (idmap.Plan, error) {
	if e.Op != event.OpUpsert && e.Op != event.OpDelete {
		return idmap.Plan{}, fmt.Errorf("idmap begin %s: op %q is neither upsert nor delete", e.ID, e.Op)
	}
	if hold <= 0 {
		return idmap.Plan{}, fmt.Errorf("idmap begin %s: hold %v is not positive", e.ID, hold)
	}
	if e.Version < 0 {
		return idmap.Plan{}, fmt.Errorf("idmap begin %s: version %d is negative", e.ID, e.Version)
	}
	got, err := idmapBeginScript.Run(ctx, rdb, []string{k.IDMap(e.Entity), k.Ledger(e.Entity)}, e.Key, string(e.Op),
		strconv.FormatInt(e.Version, 10), e.ID, strconv.FormatInt(now.Add(hold).UnixMilli(), 10), now.UnixMilli()).Slice()
	if err != nil {
		if strings.Contains(err.Error(), "unreadable id map entry") {
			return idmap.Plan{}, fmt.Errorf("idmap begin %s: %w (%w)", e.ID, idmap.ErrUnreadable, err)
		}
		return idmap.Plan{}, fmt.Errorf("idmap begin %s: %w", e.ID, err)
	}
	if len(got) != 3 {
		return idmap.Plan{}, fmt.Errorf("idmap begin %s: answered %v", e.ID, got)
	}
	a, ok := beginActions[text(got[0])]
	wait, isInt := got[2].(int64)
	if !ok || !isInt {
		return idmap.Plan{}, fmt.Errorf("idmap begin %s: answered %v", e.ID, got)
	}
	return idmap.Plan{Action: a, ID: text(got[1]), Wait: time.Duration(wait) * time.Millisecond}, nil
}
