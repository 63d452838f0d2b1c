package layout

// luaLib is the Lua shared by the scripts of this package.
//
// Every script does all that can fail (decoding, checking its arguments,
// unpacking lists) before its first write, and never unpacks a list longer
// than it checked: Redis does not roll a script back, so an error after a
// write leaves a half-done move. A Lua call takes at most about 8,000
// values; entries written here hold at most maxFlatFields fields (the
// rest packed in MoreField, see packed.go), so they fit.
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
  -- every row must convert (docs/operations.md): a version that is not an Int64 is
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
