package pipeline

import "github.com/redis/go-redis/v9"

// luaLib is shared by the scripts below.
//
// Every script does all that can fail (decoding, checking its arguments,
// unpacking lists) before its first write, and never unpacks a list longer
// than it checked: Redis does not roll a script back, so an error after a
// write leaves a half-done move. A Lua call takes at most about 8,000
// values; entries written here hold at most layout's maxFlatFields fields
// (the rest packed in layout.MoreField), so they fit.
const luaLib = `
-- the most values one call may take (Lua's limit is about 8,000)
local MAXV = 7000

-- unpack_fields: the packed form of PackFields ("<len>:<bytes>" each) as a
-- list, or nil when it is not one, is empty, or is too long for one call.
local function unpack_fields(s)
  local out, i, n = {}, 1, #s
  while i <= n do
    local c = string.find(s, ':', i, true)
    if not c or c == i or c - i > 10 then return nil end
    local lt = string.sub(s, i, c - 1)
    if not string.match(lt, '^%d+$') then return nil end
    local len = tonumber(lt)
    if c + len > n then return nil end
    out[#out + 1] = string.sub(s, c + 1, c + len)
    if #out > MAXV then return nil end
    i = c + len + 1
  end
  if #out == 0 or #out % 2 ~= 0 then return nil end
  return out
end

-- decode_entry: a parked entry's field list (packed, or the JSON array of
-- strings older versions stored), or nil when it cannot be re-entered.
local function decode_entry(p)
  if string.sub(p, 1, 1) ~= '[' then return unpack_fields(p) end
  local ok, f = pcall(cjson.decode, p)
  if not ok or type(f) ~= 'table' or #f == 0 or #f % 2 ~= 0 or #f > MAXV then return nil end
  for i = 1, #f do
    if type(f[i]) ~= 'string' then return nil end
  end
  return f
end

-- int64_text: v when it is a decimal Int64 ClickHouse can take, else nil.
local function int64_text(v)
  if type(v) ~= 'string' or not string.match(v, '^%d+$') then return nil end
  if #v < 19 or (#v == 19 and v <= '9223372036854775807') then return v end
  return nil
end

-- vgt: decimal string a > decimal string b (int64 versions exceed Lua's exact numbers)
local function vgt(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end

-- row_from_fields: an attempt-log row (streams.RowColumns) for a step made
-- by a script, from an entry's flat field list.
local function row_from_fields(f, sid, step, now, instance)
  local m = {}
  for i = 1, #f, 2 do m[f[i]] = f[i + 1] end
  local id = m['id'] or ''
  -- every row must convert (contract §3): a version that is not an Int64 is
  -- 0, its text in error
  local version, err = int64_text(m['version']), ''
  if not version then
    version = '0'
    if m['version'] then err = 'version ' .. string.format('%q', string.sub(m['version'], 1, 100)) .. ' is not a whole number; recorded as 0' end
  end
  return {
    'ts', tostring(math.floor(now / 1000)), 'ts_ms', tostring(now % 1000),
    'event_id', id, 'row_id', sid .. ':' .. step .. ':0', 'stream_id', sid,
    'account', m['account'] or '', 'entity', m['entity'] or '', 'key', m['key'] or '',
    'parent_entity', m['parent_entity'] or '', 'parent_key', m['parent_key'] or '',
    'chain_id', id, 'op', m['op'] or '', 'version', version,
    'attempt', '0', 'step', step, 'http_status', '0', 'latency_us', '0', 'error', err,
    'instance', instance }
end
`

// commitScript records the outcomes of one or more events of one shard,
// each atomically (the whole call is one script) and in the order given.
// For each outcome it acks the entry, and only if this ack was the first (so
// an outcome is never committed twice, whoever else claimed the entry) it
// updates the ledger and the record's state, parks the event in a ZSET,
// dead-letters it, releases the children waiting for the record, appends the
// step's row and releases the account's lease; the steps hash is counted
// once per call. Many outcomes in one call cost Redis one script call
// instead of one each (contract §9's batched commits).
//
// ARGV[1] is the number of outcomes P. Outcome i has 13 keys at
// KEYS[13(i-1)+1 ..] and its arguments follow the previous outcome's:
//
// KEYS +1 events stream      +2 attempts stream   +3 steps hash
// KEYS +4 ledger hash        +5 state hash        +6 waiting set of this record
// KEYS +7 delayed ZSET       +8 ZSET to park in   +9 payloads hash
// KEYS +10 dead stream       +11 waiting set of the parent   +12 the account's lease
// KEYS +13 ledger hash of the parent's entity
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
// ARGV +19 .. +18+n dead-letter fields, then m row fields
//
// Returns one answer per outcome: 1 when committed (2 when it also released
// children waiting for the record), 0 when the entry had been acked already, or an error text when its arguments do not add up
// (nothing of that outcome written) or a write failed. The call as a whole
// fails, before any write, only when the outcomes cannot be told apart.
var commitScript = redis.NewScript(luaLib + `
local P = tonumber(ARGV[1])
if not P or P < 1 or #KEYS ~= 13 * P then
  return redis.error_reply('commit: ' .. #KEYS .. ' keys for ' .. tostring(ARGV[1]) .. ' outcomes')
end
-- find every outcome's arguments before the first write
local at, pos = {}, 1
for i = 1, P do
  local n, m = tonumber(ARGV[pos + 15]), tonumber(ARGV[pos + 16])
  if not n or not m or n < 0 or m < 0 or n + m > MAXV or pos + 18 + n + m > #ARGV then
    return redis.error_reply('commit: outcome ' .. i .. ': ' .. tostring(ARGV[pos + 15]) .. ' dead-letter and ' .. tostring(ARGV[pos + 16]) .. ' row values do not fit ' .. #ARGV .. ' arguments')
  end
  at[i] = pos
  pos = pos + 18 + n + m
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
  local lease, run = KEYS[kb + 12], ARGV[a + 17]
  if redis.call('XACK', KEYS[kb + 1], ARGV[a + 1], ARGV[a + 2]) == 0 then
    if redis.call('GET', lease) == run then redis.call('DEL', lease) end
    return 0
  end
  local rkey, id = ARGV[a + 3], ARGV[a + 4]

  if lmode ~= 'none' then
    local cur = redis.call('HGET', KEYS[kb + 4], rkey)
    local cv, rest = nil, nil
    if cur then cv, rest = string.match(cur, '^(%d+)(|.*)$') end
    if lmode == 'set' then
      local nv = string.match(lval, '^(%d+)|')
      if not cv or vgt(nv, cv) then redis.call('HSET', KEYS[kb + 4], rkey, lval) end
    elseif lmode == 'force' then
      redis.call('HSET', KEYS[kb + 4], rkey, lval)
    elseif lmode == 'content' then
      local nv, nrest = string.match(lval, '^(%d+)(|.*)$')
      if not cv then
        redis.call('HSET', KEYS[kb + 4], rkey, '0' .. nrest)
      elseif vgt(nv, cv) then
        redis.call('HSET', KEYS[kb + 4], rkey, cv .. nrest)
      end
    elseif lmode == 'bump' and cv and vgt(lval, cv) then
      redis.call('HSET', KEYS[kb + 4], rkey, lval .. rest)
    end
  end

  local smode = ARGV[a + 9]
  if smode == 'set' then
    redis.call('HSET', KEYS[kb + 5], rkey, ARGV[a + 10])
  elseif smode == 'clear_any' then
    redis.call('HDEL', KEYS[kb + 5], rkey)
  elseif smode == 'clear' then
    local s = redis.call('HGET', KEYS[kb + 5], rkey)
    if s and string.sub(s, -(#id + 1)) == ':' .. id then redis.call('HDEL', KEYS[kb + 5], rkey) end
  end

  local answer = 1
  if ARGV[a + 11] == '1' then
    local kids = redis.call('SMEMBERS', KEYS[kb + 6])
    if #kids > 0 then
      answer = 2
      for _, k in ipairs(kids) do redis.call('ZADD', KEYS[kb + 7], 'XX', now, k) end
      redis.call('DEL', KEYS[kb + 6])
    end
  end

  if ARGV[a + 12] ~= '' then
    local due, wait = ARGV[a + 12], ARGV[a + 14]
    if wait ~= '0' then
      redis.call('SADD', KEYS[kb + 11], id)
    end
    if wait == '2' then
      local pl = redis.call('HGET', KEYS[kb + 13], ARGV[a + 18])
      if pl and string.match(pl, '^%d+|[^|]*|0|') then due = now end
    end
    redis.call('ZADD', KEYS[kb + 8], due, id)
    redis.call('HSET', KEYS[kb + 9], id, ARGV[a + 13])
  end
  if ARGV[a + 14] == '0' and ARGV[a + 18] ~= '' then
    -- no longer waiting on its parent (delivered, dead, retrying): out of the
    -- parent's waiting set, which would otherwise keep a child whose parent
    -- never came for good
    redis.call('SREM', KEYS[kb + 11], id)
  end

  if n > 0 then
    redis.call('XADD', KEYS[kb + 10], '*', unpack(ARGV, a + 19, a + 18 + n))
  end
  if m > 0 then
    redis.call('XADD', KEYS[kb + 2], '*', unpack(ARGV, a + 19 + n, a + 18 + n + m))
  end
  if redis.call('GET', lease) == run then redis.call('DEL', lease) end
  local c = counts[KEYS[kb + 3]]
  if not c then c = {}; counts[KEYS[kb + 3]] = c end
  c[step] = (c[step] or 0) + 1
  return answer
end

local out = {}
for i = 1, P do
  -- a write failing (another type under one of our keys) ends this outcome
  -- only; the outcomes before it stay committed and counted
  local ok, r = pcall(one, 13 * (i - 1), at[i])
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

// lookupScript looks up what the steps need to know of one or more events
// of one shard, and takes each one's account lease (contract §2: one
// delivery per account at a time), in one call instead of a few commands
// each. ARGV[1] is the number of events P; event i's keys follow the
// previous event's, and its five arguments too:
//
// KEYS +1 the account's lease   +2 the record's ledger hash
// KEYS +3 the parent's ledger hash   +4 the parent's state hash (with a parent only)
// ARGV +1 this run's id   +2 lease time to live, ms   +3 the record key
// ARGV +4 the number of keys of this event (2, or 4 with a parent)   +5 the parent's key
//
// Returns one answer per event: {the lease's holder before (nil: taken
// now, SET NX PX GET), the ledger entry, the parent's ledger entry, the
// parent's state}, nil where there is none; or the text of what went wrong
// with that event.
var lookupScript = redis.NewScript(`
local P = tonumber(ARGV[1])
if not P or P < 1 or #ARGV ~= 1 + 5 * P then
  return redis.error_reply('lookup: ' .. #ARGV .. ' arguments for ' .. tostring(ARGV[1]) .. ' events')
end
local nkeys = 0
for i = 1, P do
  local nk = tonumber(ARGV[1 + 5 * (i - 1) + 4])
  if nk ~= 2 and nk ~= 4 then return redis.error_reply('lookup: event ' .. i .. ' has ' .. tostring(nk) .. ' keys') end
  nkeys = nkeys + nk
end
if nkeys ~= #KEYS then return redis.error_reply('lookup: ' .. #KEYS .. ' keys, ' .. nkeys .. ' expected') end

local function one(k, a)
  local holder = redis.call('SET', KEYS[k + 1], ARGV[a + 1], 'NX', 'PX', ARGV[a + 2], 'GET')
  local rec = redis.call('HGET', KEYS[k + 2], ARGV[a + 3])
  local pl, ps = false, false
  if ARGV[a + 4] == '4' then
    pl = redis.call('HGET', KEYS[k + 3], ARGV[a + 5])
    ps = redis.call('HGET', KEYS[k + 4], ARGV[a + 5])
  end
  return {holder, rec, pl, ps}
end

local out, k = {}, 0
for i = 1, P do
  local a = 1 + 5 * (i - 1)
  local ok, r = pcall(one, k, a)
  if not ok then
    r = 'lookup: ' .. (type(r) == 'table' and tostring(r.err) or tostring(r))
  end
  out[i] = r
  k = k + tonumber(ARGV[a + 4])
end
return out
`)

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

// replayScript re-enters one dead letter as a new entry of the events
// stream with the fields the caller built from it (its own fields without
// the dead_* ones, layout.MoreField kept packed, plus _ss_replay=1 and the
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
