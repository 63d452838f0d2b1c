package layout

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Prepared events (docs/producers.md, "Prepared events") wait in
// Keys.Prepared, Keys.PreparedDue and Keys.PreparedChecks until their
// producer confirms or cancels them, or the check-backs give up on them;
// package ingest decides which.

// maxPreparedValues bounds the field list of a prepared event a script
// unpacks: an event from the JSON ingest has at most 11 fields and the
// producer's (24 values), far below Lua's limit of about 8,000 values.
const maxPreparedValues = 64

// releasePreparedScript ends one prepared event: confirm appends its entry
// to the events stream (step confirmed), cancel drops it (step cancelled,
// terminal), dead dead-letters it with dead_reason=unconfirmed (step dead). It checks
// everything that can fail (the payload decodes, its size, the type of
// every key it writes, the step counter) before its first write, and
// unpacks at most maxPreparedValues values.
//
// KEYS[1] prepared hash   KEYS[2] prepared_due ZSET   KEYS[3] prepared_checks hash
// KEYS[4] events stream   KEYS[5] attempts stream     KEYS[6] steps hash
// KEYS[7] dead stream
// ARGV[1] the event's field (ingest.PreparedField)   ARGV[2] confirm|cancel|dead
// ARGV[3] now, unix ms   ARGV[4] instance   ARGV[5] "1": write the step's row
// ARGV[6] dead_error   ARGV[7] maxPreparedValues
// ARGV[8] the row's stream_id
//
// Returns 1 when the event was prepared and is now released, 0 when it was
// not prepared (never, or released already: harmless).
var releasePreparedScript = redis.NewScript(luaLib + `
local id, action, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local p = redis.call('HGET', KEYS[1], id)
if not p then return 0 end
local ok, f = pcall(cjson.decode, p)
if not ok or type(f) ~= 'table' or #f == 0 or #f % 2 ~= 0 or #f > tonumber(ARGV[7]) then
  return redis.error_reply('prepared event ' .. id .. ': unreadable payload')
end
if action ~= 'confirm' and action ~= 'cancel' and action ~= 'dead' then
  return redis.error_reply('unknown action ' .. action)
end
local step = ({confirm = 'confirmed', cancel = 'cancelled', dead = 'dead'})[action]
local types = {'hash', 'zset', 'hash', 'stream', 'stream', 'hash', 'stream'}
for i = 2, 7 do
  local t, want = redis.call('TYPE', KEYS[i])['ok'], types[i]
  if t ~= 'none' and t ~= want then
    return redis.error_reply(KEYS[i] .. ' is a ' .. t .. ', not a ' .. want)
  end
end
local count = redis.call('HGET', KEYS[6], step)
if count and not tonumber(count) then return redis.error_reply(KEYS[6] .. ' ' .. step .. ' is not a number') end
-- writes from here on
redis.call('HDEL', KEYS[1], id)
redis.call('ZREM', KEYS[2], id)
redis.call('HDEL', KEYS[3], id)
local sid = ARGV[8]
if action == 'confirm' then
  sid = redis.call('XADD', KEYS[4], '*', unpack(f))
elseif action == 'dead' then
  local d = {}
  for i = 1, #f do d[i] = f[i] end
  for _, v in ipairs({'dead_reason', 'unconfirmed', 'dead_error', ARGV[6], 'dead_attempts', '0', 'dead_at', ARGV[3]}) do
    d[#d + 1] = v
  end
  redis.call('XADD', KEYS[7], '*', unpack(d))
end
if ARGV[5] == '1' then
  redis.call('XADD', KEYS[5], '*', unpack(row_from_fields(f, sid, step, now, ARGV[4])))
end
redis.call('HINCRBY', KEYS[6], step, 1)
return 1
`)

// PreparedRelease is one release of a prepared event, as
// releasePreparedScript takes it.
type PreparedRelease struct {
	Field     string // the event's field in Keys.Prepared (ingest.PreparedField)
	Action    string // confirm, cancel or dead
	DeadError string // the dead_error of a dead one
	Now       time.Time
	Instance  string
	Rows      bool   // write the step's row
	Source    string // the row's stream_id
}

func (r PreparedRelease) args() []any {
	rows := "0"
	if r.Rows {
		rows = "1"
	}
	return []any{r.Field, r.Action, r.Now.UnixMilli(), r.Instance, rows, r.DeadError, maxPreparedValues, r.Source}
}

func preparedKeys(k Keys) []string {
	return []string{k.Prepared, k.PreparedDue, k.PreparedChecks, k.Events, k.Attempts, k.Steps, k.Dead}
}

// ReleasePrepared releases r in shard k; false when the event was not
// prepared (never, or released already).
func ReleasePrepared(ctx context.Context, rdb redis.Scripter, k Keys, r PreparedRelease) (bool, error) {
	n, err := releasePreparedScript.Run(ctx, rdb, preparedKeys(k), r.args()...).Int()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// LoadReleasePrepared makes sure Redis has releasePreparedScript, for
// ReleasePreparedIn.
func LoadReleasePrepared(ctx context.Context, rdb redis.Scripter) error {
	return releasePreparedScript.Load(ctx, rdb).Err()
}

// ReleasePreparedIn queues the release of r on pipe by the script's SHA,
// so that many releases share a round trip. The command answers 1 when
// released, 0 when not prepared; NOSCRIPT when the script was flushed
// since LoadReleasePrepared (ReleasePrepared then sends it whole).
func ReleasePreparedIn(ctx context.Context, pipe redis.Pipeliner, k Keys, r PreparedRelease) *redis.Cmd {
	return releasePreparedScript.EvalSha(ctx, pipe, preparedKeys(k), r.args()...)
}

// claimDueScript takes up to ARGV[2] prepared events whose check-back is
// due and moves their due time to ARGV[3], so that one instance checks each
// at a time (another takes it over if this one dies before answering).
//
// KEYS[1] prepared_due ZSET
// ARGV[1] now, unix ms   ARGV[2] limit   ARGV[3] claimed until, unix ms
//
// Returns the ids taken.
var claimDueScript = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], 'XX', ARGV[3], id) end
return ids
`)

// ClaimDuePrepared takes up to limit prepared events of shard k whose
// check-back is due at now, until until; it returns their fields.
func ClaimDuePrepared(ctx context.Context, rdb redis.Scripter, k Keys, now time.Time, limit int, until time.Time) ([]string, error) {
	return claimDueScript.Run(ctx, rdb, []string{k.PreparedDue}, now.UnixMilli(), limit, until.UnixMilli()).StringSlice()
}

// recheckScript counts one more unsettled check-back of a prepared event
// that is still prepared and sets its next due time: now + initial·2^(n-1),
// at most max, after the n-th.
//
// KEYS[1] prepared_due ZSET   KEYS[2] prepared_checks hash
// ARGV[1] event id   ARGV[2] now, unix ms   ARGV[3] initial backoff, ms
// ARGV[4] max backoff, ms
//
// Returns the check-backs made so far, or -1 when the event is no longer
// prepared.
var recheckScript = redis.NewScript(`
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return -1 end
local c = redis.call('HGET', KEYS[2], ARGV[1])
if c and not tonumber(c) then return redis.error_reply(KEYS[2] .. ' ' .. ARGV[1] .. ' is not a number') end
local n = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
local wait = tonumber(ARGV[4])
if n <= 40 then wait = math.min(wait, tonumber(ARGV[3]) * 2 ^ (n - 1)) end
redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[2]) + wait, ARGV[1])
return n
`)

// RecheckPrepared counts a check-back of the prepared event kept under
// field in shard k that did not settle it, and sets its next due time
// (backoff from initial doubling to max); it returns the check-backs so
// far, -1 when it is no longer prepared.
func RecheckPrepared(ctx context.Context, rdb redis.Scripter, k Keys, field string, now time.Time, initial, max time.Duration) (int, error) {
	return recheckScript.Run(ctx, rdb, []string{k.PreparedDue, k.PreparedChecks}, field,
		strconv.FormatInt(now.UnixMilli(), 10), initial.Milliseconds(), max.Milliseconds()).Int()
}
