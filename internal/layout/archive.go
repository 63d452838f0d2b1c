package layout

import (
	"context"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/handlers"
)

// trimChunk is how many archived entries one trimArchivedScript call removes.
const trimChunk = 100

// trimArchivedScript removes archived entries from a dead-letter stream, exactly the
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
var trimArchivedScript = redis.NewScript(`
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

// Archived is a dead letter that was archived and is to be removed from
// the dead-letter stream.
type Archived struct {
	StreamID string // its entry id in the dead-letter stream
	EventID  string
	// Entity and Key name the record whose dead state may name it; an
	// empty Key: the letter has no state to forget.
	Entity, Key string
}

// TrimArchived removes the archived letters from k's dead-letter stream,
// trimChunk a call, and forgets the dead states that name them; it returns
// how many it deleted.
func TrimArchived(ctx context.Context, rdb redis.Scripter, k Keys, letters []Archived) (int, error) {
	total := 0
	for len(letters) > 0 {
		chunk := letters[:min(trimChunk, len(letters))]
		letters = letters[len(chunk):]
		keys := make([]string, 1, 1+len(chunk))
		keys[0] = k.Dead
		args := make([]any, 0, 3*len(chunk))
		for _, l := range chunk {
			state := k.Dead
			if l.Key != "" {
				state = k.State(l.Entity)
			}
			keys = append(keys, state)
			args = append(args, l.StreamID, string(handlers.NewState(handlers.StateDead, l.EventID)), l.Key)
		}
		n, err := trimArchivedScript.Run(ctx, rdb, keys, args...).Int()
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}
