package deadarchive

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
)

// trimChunk is how many archived entries one trimScript call removes.
const trimChunk = 100

// trimScript removes archived entries from a dead-letter stream, exactly the
// ids given (never by range: an entry that was not archived stays), and
// forgets the dead state of their records: a record's state "dead:<event
// id>" (layout.Keys.State) is deleted when it names the removed entry's
// event, so that the state hashes shrink with the stream. A child whose
// parent's dead letter was archived then waits dependency.max_wait for it
// instead of being dead-lettered at once; it ends parent_missing either way.
// An entry already gone (replayed or dropped meanwhile) leaves its record's
// state alone.
//
// KEYS[1] the dead-letter stream
// KEYS[1+i] the state hash of the i-th entry's entity (KEYS[1] when it has no state to look at)
// ARGV[3i-2] the i-th entry's id   ARGV[3i-1] the state that names it ("dead:<event id>")
// ARGV[3i] its record key ("": no state)
//
// Returns how many entries it deleted.
var trimScript = redis.NewScript(`
local n = #KEYS - 1
if #ARGV ~= 3 * n then
  return redis.error_reply('dead archive trim: ' .. #ARGV .. ' arguments for ' .. n .. ' entries')
end
local deleted = 0
for i = 1, n do
  local id, state, rkey = ARGV[3 * i - 2], ARGV[3 * i - 1], ARGV[3 * i]
  local d = redis.call('XDEL', KEYS[1], id)
  deleted = deleted + d
  if d == 1 and rkey ~= '' and redis.call('HGET', KEYS[1 + i], rkey) == state then
    redis.call('HDEL', KEYS[1 + i], rkey)
  end
end
return deleted
`)

// maxEntityLen is the longest entity a valid event has (contract §1); a
// dead letter naming a longer one never had a record state.
const maxEntityLen = 64

// trim removes the archived letters of shard k from its dead-letter
// stream, trimChunk at a time, and returns how many it deleted.
func trim(ctx context.Context, rdb redis.UniversalClient, k layout.Keys, letters []Letter) (int, error) {
	total := 0
	for len(letters) > 0 {
		chunk := letters[:min(trimChunk, len(letters))]
		letters = letters[len(chunk):]
		keys := make([]string, 1, 1+len(chunk))
		keys[0] = k.Dead
		args := make([]any, 0, 3*len(chunk))
		for _, l := range chunk {
			state, rkey := k.Dead, ""
			if hasState(l) {
				state, rkey = k.State(l.Entity), l.Key
			}
			keys = append(keys, state)
			args = append(args, l.StreamID, string(handlers.NewState(handlers.StateDead, l.EventID)), rkey)
		}
		n, err := trimScript.Run(ctx, rdb, keys, args...).Int()
		if err != nil {
			return total, fmt.Errorf("trim %s: %w", k.Dead, err)
		}
		total += n
	}
	return total, nil
}

// hasState reports whether the letter's record may have a dead state: the
// pipeline sets one for every dead letter but the invalid ones.
func hasState(l Letter) bool {
	return l.Reason != handlers.ReasonInvalid && l.Entity != "" && len(l.Entity) <= maxEntityLen && l.Key != "" && l.EventID != ""
}
