package layout

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// ledgerSetScript gives a ledger entry a new version in one step, so that a
// commit in between is not undone: the entry's content part is kept; a
// missing (or unreadable) entry gets "<version>||0|<event id>"; an entry
// without an account gets ARGV[4]'s, after "\x1f" (handlers.Ledger).
//
// KEYS[1] the entity's ledger hash
// ARGV[1] record key   ARGV[2] version (decimal)   ARGV[3] event id of a new entry
// ARGV[4] the record's account, or "" when not known
//
// Returns {the entry as it was (false: none), the entry now}.
var ledgerSetScript = redis.NewScript(`
if not string.match(ARGV[2], '^%d+$') then return redis.error_reply('ledger set: version ' .. ARGV[2] .. ' is not a whole number') end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local rest = cur and string.match(cur, '^%d+(|.*)$')
if not rest then rest = '||0|' .. ARGV[3] end
if ARGV[4] ~= '' and not string.find(rest, '\31', 1, true) then rest = rest .. '\31' .. ARGV[4] end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. rest)
return {cur, ARGV[2] .. rest}
`)

// LedgerSet gives the ledger entry of entity's record key in shard k the
// version, in one step (see ledgerSetScript); a new entry names eventID,
// and an entry without an account takes account (when not ""). It returns
// the entry as it was ("": none) and as it is now.
func LedgerSet(ctx context.Context, rdb redis.Scripter, k Keys, entity, key string, version int64, eventID, account string) (before, after string, err error) {
	got, err := ledgerSetScript.Run(ctx, rdb, []string{k.Ledger(entity)}, key, version, eventID, account).Slice()
	if err != nil {
		return "", "", err
	}
	if len(got) != 2 {
		return "", "", fmt.Errorf("answered %v", got)
	}
	return text(got[0]), text(got[1]), nil
}

// ledgerDropScript deletes a ledger entry and returns it.
//
// KEYS[1] the entity's ledger hash   ARGV[1] record key
//
// Returns the entry as it was, or nil when there was none.
var ledgerDropScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then redis.call('HDEL', KEYS[1], ARGV[1]) end
return cur
`)

// LedgerDrop deletes the ledger entry of entity's record key in shard k
// and returns it; redis.Nil when there was none.
func LedgerDrop(ctx context.Context, rdb redis.Scripter, k Keys, entity, key string) (string, error) {
	return ledgerDropScript.Run(ctx, rdb, []string{k.Ledger(entity)}, key).Text()
}
