package streams

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// MaxForgetPerCall bounds the consumers one ForgetConsumers call deletes;
// the rest go at the next call.
const MaxForgetPerCall = 100

// forgetScript deletes the consumers of every group of a stream that own
// nothing pending and have been idle at least ARGV[1] ms. XGROUP
// DELCONSUMER drops the pending entries of the consumer it deletes from
// the group's pending list — nobody would claim them again — so the look
// and the delete are one script: no entry can become a consumer's between
// them.
//
// KEYS[1] the stream
// ARGV[1] minimum idle time, ms (XINFO CONSUMERS' idle: since the
//
//	consumer's last read or claim, successful or not)
//
// ARGV[2] the most consumers to delete in this call
// ARGV[3…] consumer names never deleted (this process' own)
//
// Returns {group, consumer, idle ms, …} of those deleted; {} without a
// stream.
var forgetScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local keep = {}
for i = 3, #ARGV do keep[ARGV[i]] = true end
local minIdle, left = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local gm = {}
  for i = 1, #g, 2 do gm[g[i]] = g[i + 1] end
  for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], gm['name'])) do
    if left <= 0 then return out end
    local cm = {}
    for i = 1, #c, 2 do cm[c[i]] = c[i + 1] end
    if tonumber(cm['pending']) == 0 and tonumber(cm['idle']) >= minIdle and not keep[cm['name']] then
      redis.call('XGROUP', 'DELCONSUMER', KEYS[1], gm['name'], cm['name'])
      out[#out + 1] = gm['name']
      out[#out + 1] = cm['name']
      out[#out + 1] = cm['idle']
      left = left - 1
    end
  end
end
return out
`)

// Forgotten is a consumer ForgetConsumers deleted.
type Forgotten struct {
	Group, Consumer string
	Idle            time.Duration
}

// ForgetConsumers deletes, on every consumer group of stream, the
// consumers that own no pending entry and have been idle (neither read nor
// claimed) for at least minIdle — those of processes that stopped or were
// replaced — at most MaxForgetPerCall of them; keep names consumers never
// deleted. A consumer that owns pending entries stays whatever its idle
// time, until its entries are claimed by a live one and acked
// (docs/reliability.md, "Consumers"). A live consumer deleted by mistake
// (idle that long, yet alive) is made again by its next read.
func ForgetConsumers(ctx context.Context, rdb redis.Scripter, stream string, minIdle time.Duration, keep ...string) ([]Forgotten, error) {
	args := []any{minIdle.Milliseconds(), MaxForgetPerCall}
	for _, k := range keep {
		args = append(args, k)
	}
	v, err := forgetScript.Run(ctx, rdb, []string{stream}, args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("forget idle consumers of %s: %w", stream, err)
	}
	out := make([]Forgotten, 0, len(v)/3)
	for i := 0; i+2 < len(v); i += 3 {
		g, _ := v[i].(string)
		c, _ := v[i+1].(string)
		idle, _ := v[i+2].(int64)
		out = append(out, Forgotten{Group: g, Consumer: c, Idle: time.Duration(idle) * time.Millisecond})
	}
	return out, nil
}
