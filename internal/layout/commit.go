package layout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/idmap"
)

// commitScript records the outcomes of one or more events of one shard,
// each atomically (the whole call is one script) and in the order given.
// For each outcome it acks the entry, and only if this ack was the first (so
// an outcome is never committed twice, whoever else claimed the entry) it
// updates the ledger and the record's state, parks the event in a ZSET,
// dead-letters it, releases the children waiting for the record, records
// the partner's id of the record (or that it is gone) in the id map, appends
// the step's row and releases the account's lease; the steps hash is counted
// once per call. Many outcomes in one call cost Redis one script call
// instead of one each (docs/scaling.md's batched commits).
//
// ARGV[1] is the number of outcomes P. The shard's own keys, the same for
// every outcome, come first, once (S = sharedKeys):
//
// KEYS[1] events stream   [2] attempts stream   [3] steps hash
// KEYS[4] delayed ZSET    [5] payloads hash     [6] dead stream
//
// Outcome i has K = outcomeKeys (8) keys at KEYS[S+K(i-1)+1 ..] and its
// arguments follow the previous outcome's:
//
// KEYS +1 ledger hash        +2 state hash        +3 waiting set of this record
// KEYS +4 ZSET to park in    +5 waiting set of the parent   +6 the account's lease
// KEYS +7 ledger hash of the parent's entity   +8 id map hash of the record's entity
//
// ARGV +1 group            +2 stream entry id   +3 record key (ledger and state field)
// ARGV +4 event id         +5 now, unix ms      +6 step
// ARGV +7 ledger: none|set|bump|force|content
// ARGV +8 ledger value "version|…" (set, force, content) or version (bump):
// set writes it when its version is newer; force writes it whatever the
// ledger held; content writes it when its version is newer but keeps the
// ledger's version (0 when there was none); bump raises the version only
// ARGV +9 state: keep|clear|clear_any|set          +10 state value (set)
// ARGV +11 "1": release the children waiting for this record
// ARGV +12 park due ms ("" = no park)   +13 payload to park
// ARGV +14 "1": wait on the parent; "2": wait on it, and be due at once if the ledger has it by now
// ARGV +15 n = dead-letter field values   +16 m = row field values
// ARGV +17 this run's id: the account's lease is released if this run holds it
// ARGV +18 the parent's key: a child parked to wait for a parent that the
// partner got meanwhile is due at once (no lost wake-up); a child that no
// longer waits on it (+14 is "0") leaves the parent's waiting set
// ARGV +19 id map: "" (no write), set (+20 is the partner's id: "i|<id>"),
// gone (+20 is the event's version: "g|<version>", unless the entry is a
// "g|" of a higher version already)          +20 id map value
// ARGV +21 .. +20+n dead-letter fields, then m row fields
//
// Returns one answer per outcome: 1 when committed (2 when it also released
// children waiting for the record), 0 when the entry had been acked already, or an error text when its arguments do not add up
// (nothing of that outcome written) or a write failed. The call as a whole
// fails, before any write, only when the outcomes cannot be told apart.
var commitScript = redis.NewScript(luaLib + "local S, K = " + strconv.Itoa(sharedKeys) + ", " + strconv.Itoa(outcomeKeys) + "\n" + `
local P = tonumber(ARGV[1])
if not P or P < 1 or #KEYS ~= S + K * P then
  return redis.error_reply('commit: ' .. #KEYS .. ' keys for ' .. tostring(ARGV[1]) .. ' outcomes')
end
-- find every outcome's arguments before the first write
local at, pos = {}, 1
for i = 1, P do
  local n, m = tonumber(ARGV[pos + 15]), tonumber(ARGV[pos + 16])
  if not n or not m or n < 0 or m < 0 or n + m > MAXV or pos + 20 + n + m > #ARGV then
    return redis.error_reply('commit: outcome ' .. i .. ': ' .. tostring(ARGV[pos + 15]) .. ' dead-letter and ' .. tostring(ARGV[pos + 16]) .. ' row values do not fit ' .. #ARGV .. ' arguments')
  end
  at[i] = pos
  pos = pos + 20 + n + m
end
if pos ~= #ARGV then
  return redis.error_reply('commit: ' .. #ARGV .. ' arguments, ' .. pos .. ' expected')
end

local counts = {}
local function one(kb, a)
  local n, m = tonumber(ARGV[a + 15]), tonumber(ARGV[a + 16])
  local now, step, lmode, lval = ARGV[a + 5], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8]
  -- everything that can fail is checked before this outcome's first write (the XACK)
  if not tonumber(now) or (ARGV[a + 12] ~= '' and not tonumber(ARGV[a + 12])) then
    return 'commit: now and the due time must be numbers'
  end
  local whole = lmode == 'set' or lmode == 'force' or lmode == 'content'
  if (whole and not string.match(lval, '^%d+|')) or (lmode == 'bump' and not string.match(lval, '^%d+$'))
    or not (whole or lmode == 'bump' or lmode == 'none') then
    return 'commit: ledger value ' .. lval .. ' does not fit mode ' .. lmode
  end
  local imode, ival = ARGV[a + 19], ARGV[a + 20]
  if not (imode == '' or (imode == 'set' and ival ~= '') or (imode == 'gone' and string.match(ival, '^%d+$'))) then
    return 'commit: id map value ' .. ival .. ' does not fit mode ' .. imode
  end
  local lease, run = KEYS[kb + 6], ARGV[a + 17]
  if redis.call('XACK', KEYS[1], ARGV[a + 1], ARGV[a + 2]) == 0 then
    if redis.call('GET', lease) == run then redis.call('DEL', lease) end
    return 0
  end
  local rkey, id = ARGV[a + 3], ARGV[a + 4]

  if lmode ~= 'none' then
    local cur = redis.call('HGET', KEYS[kb + 1], rkey)
    local cv, rest = nil, nil
    if cur then cv, rest = string.match(cur, '^(%d+)(|.*)$') end
    if lmode == 'set' then
      local nv = string.match(lval, '^(%d+)|')
      if not cv or vgt(nv, cv) then redis.call('HSET', KEYS[kb + 1], rkey, lval) end
    elseif lmode == 'force' then
      redis.call('HSET', KEYS[kb + 1], rkey, lval)
    elseif lmode == 'content' then
      local nv, nrest = string.match(lval, '^(%d+)(|.*)$')
      if not cv then
        redis.call('HSET', KEYS[kb + 1], rkey, '0' .. nrest)
      elseif vgt(nv, cv) then
        redis.call('HSET', KEYS[kb + 1], rkey, cv .. nrest)
      end
    elseif lmode == 'bump' and cv and vgt(lval, cv) then
      redis.call('HSET', KEYS[kb + 1], rkey, lval .. rest)
    end
  end

  if imode == 'set' then
    redis.call('HSET', KEYS[kb + 8], rkey, 'i|' .. ival)
  elseif imode == 'gone' then
    local gv = string.match(redis.call('HGET', KEYS[kb + 8], rkey) or '', '^g|(%d+)$')
    if not gv or vgt(ival, gv) then redis.call('HSET', KEYS[kb + 8], rkey, 'g|' .. ival) end
  end

  local smode = ARGV[a + 9]
  if smode == 'set' then
    redis.call('HSET', KEYS[kb + 2], rkey, ARGV[a + 10])
  elseif smode == 'clear_any' then
    redis.call('HDEL', KEYS[kb + 2], rkey)
  elseif smode == 'clear' then
    local s = redis.call('HGET', KEYS[kb + 2], rkey)
    if s and string.sub(s, -(#id + 1)) == ':' .. id then redis.call('HDEL', KEYS[kb + 2], rkey) end
  end

  local answer = 1
  if ARGV[a + 11] == '1' then
    local kids = redis.call('SMEMBERS', KEYS[kb + 3])
    if #kids > 0 then
      answer = 2
      for _, k in ipairs(kids) do redis.call('ZADD', KEYS[4], 'XX', now, k) end
      redis.call('DEL', KEYS[kb + 3])
    end
  end

  if ARGV[a + 12] ~= '' then
    local due, wait = ARGV[a + 12], ARGV[a + 14]
    if wait ~= '0' then
      redis.call('SADD', KEYS[kb + 5], id)
    end
    if wait == '2' then
      local pl = redis.call('HGET', KEYS[kb + 7], ARGV[a + 18])
      if pl and string.match(pl, '^%d+|[^|]*|0|') then due = now end
    end
    redis.call('ZADD', KEYS[kb + 4], due, id)
    redis.call('HSET', KEYS[5], id, ARGV[a + 13])
  end
  if ARGV[a + 14] == '0' and ARGV[a + 18] ~= '' then
    -- no longer waiting on its parent (delivered, dead, retrying): out of the
    -- parent's waiting set, which would otherwise keep a child whose parent
    -- never came for good
    redis.call('SREM', KEYS[kb + 5], id)
  end

  if n > 0 then
    redis.call('XADD', KEYS[6], '*', unpack(ARGV, a + 21, a + 20 + n))
  end
  if m > 0 then
    redis.call('XADD', KEYS[2], '*', unpack(ARGV, a + 21 + n, a + 20 + n + m))
  end
  if redis.call('GET', lease) == run then redis.call('DEL', lease) end
  local c = counts[KEYS[3]]
  if not c then c = {}; counts[KEYS[3]] = c end
  c[step] = (c[step] or 0) + 1
  return answer
end

local out = {}
for i = 1, P do
  -- a write failing (another type under one of our keys) ends this outcome
  -- only; the outcomes before it stay committed and counted
  local ok, r = pcall(one, S + K * (i - 1), at[i])
  if not ok then
    r = 'commit: ' .. (type(r) == 'table' and tostring(r.err) or tostring(r))
  end
  out[i] = r
end
for key, c in pairs(counts) do
  for step, k in pairs(c) do redis.call('HINCRBY', key, step, k) end
end
return out
`)

// Commit is one event's outcome as commitScript writes it: the pipeline
// decides every field, Commit lays them out as the script's KEYS and ARGV.
type Commit struct {
	// Event names the keys: its account's lease, its record's ledger, state
	// and waiting set, and its parent's.
	Event event.Event
	// StreamID is the entry to ack.
	StreamID string
	Now      time.Time
	Step     handlers.Step
	// Ledger is how the record's ledger entry changes (none, set, bump,
	// force, content: see commitScript), LedgerValue what it is set to.
	Ledger, LedgerValue string
	// State is how the record's state changes (keep, clear, clear_any,
	// set), StateValue what it is set to.
	State, StateValue string
	// ReleaseChildren makes the children waiting for the record due now.
	ReleaseChildren bool
	// Park is the ZSET the event waits in (Keys.Delayed when empty), ParkDue
	// when it is due, unix ms ("": it does not wait), Payload the entry it
	// comes back as.
	Park, ParkDue, Payload string
	// WaitOnParent is "0", or "1": the event waits on its parent, or "2":
	// it does, and is due at once if the ledger has the parent by now.
	WaitOnParent string
	// Dead and Row are the dead letter's and the step's row's fields (nil:
	// none is written).
	Dead, Row []any
	// LeaseHolder is the run whose hold on the account's lease is released
	// ("": no run's; the lease is left to run out).
	LeaseHolder string
	// IDMap is what the record's id map entry records (Keys.IDMap): the
	// partner's id ("set") or that the record is gone at the event's
	// version ("gone"); Op "" leaves it as it is.
	IDMap idmap.Write
}

// sharedKeys is the number of keys commitScript takes once per call (the
// shard's), outcomeKeys the number of keys of each outcome.
const (
	sharedKeys  = 6
	outcomeKeys = 8
)

// Commit writes c in the keys of its shard k, in a script call shared with
// other commits. It answers 1 when committed, 2 when the commit also
// released children waiting for the record, and 0 when the entry had been
// acked before (by this process before a crash, or by another one that
// claimed it).
func (t *RoundTrips) Commit(ctx context.Context, k Keys, c Commit) (int64, error) {
	e := c.Event
	park := c.Park
	if park == "" {
		park = k.Delayed
	}
	release := "0"
	if c.ReleaseChildren {
		release = "1"
	}
	shared := [sharedKeys]string{k.Events, k.Attempts, k.Steps, k.Delayed, k.Payloads, k.Dead}
	keys := []string{
		k.Ledger(e.Entity), k.State(e.Entity), k.Waiting(e.Entity, e.Key),
		park, k.Waiting(e.ParentEntity, e.ParentKey), k.Lease(e.Account),
		k.Ledger(e.ParentEntity), k.IDMap(e.Entity),
	}
	var ival string
	switch c.IDMap.Op {
	case idmap.WriteSet:
		ival = c.IDMap.ID
	case idmap.WriteGone:
		ival = strconv.FormatInt(e.Version, 10)
	}
	args := make([]any, 0, 21+len(c.Dead)+len(c.Row))
	args = append(args, k.Group, c.StreamID, e.Key, e.ID, c.Now.UnixMilli(), string(c.Step),
		c.Ledger, c.LedgerValue, c.State, c.StateValue, release, c.ParkDue, c.Payload, c.WaitOnParent,
		len(c.Dead), len(c.Row), c.LeaseHolder, e.ParentKey, c.IDMap.Op, ival)
	args = append(args, c.Dead...)
	args = append(args, c.Row...)
	return commitAnswer(t.runShared(ctx, commitScript, k.Events, &shared, keys, args))
}

// commitAnswer reads commitScript's answer for one outcome: 1 committed, 0
// acked before, or the text of what went wrong with it.
func commitAnswer(answer any, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	switch v := answer.(type) {
	case int64:
		return v, nil
	case string:
		return 0, errors.New(v)
	default:
		return 0, fmt.Errorf("commit answered %v (%T)", answer, answer)
	}
}
