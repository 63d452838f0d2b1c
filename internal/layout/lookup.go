package layout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
)

// lookupScript looks up what the steps need to know of one or more events
// of one shard, and takes each one's account lease (docs/partner-api.md: one
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

// Looked is what Lookup found of one event.
type Looked struct {
	// Holder is the answer of the SET NX PX GET that took the account's
	// lease: nil when taken now, else the holder's id.
	Holder any
	// Record is the record's ledger entry; Parent and ParentState the
	// parent's ledger entry and state ("": none).
	Record, Parent, ParentState string
}

// Lookup takes the account's lease for runID (for leaseTTL) and reads
// the record's ledger entry and its parent's ledger entry and state, in the
// keys of e's shard k, in a script call shared with other lookups.
func (t *RoundTrips) Lookup(ctx context.Context, k Keys, e event.Event, runID string, leaseTTL time.Duration) (Looked, error) {
	keys := []string{k.Lease(e.Account), k.Ledger(e.Entity)}
	if e.HasParent() {
		keys = append(keys, k.Ledger(e.ParentEntity), k.State(e.ParentEntity))
	}
	args := []any{runID, leaseTTL.Milliseconds(), e.Key, len(keys), e.ParentKey}
	answer, err := t.runPart(ctx, lookupScript, k.Events, keys, args)
	if err != nil {
		return Looked{}, err
	}
	got, err := lookupAnswer(answer)
	if err != nil {
		return Looked{}, err
	}
	return Looked{Holder: got[0], Record: text(got[1]), Parent: text(got[2]), ParentState: text(got[3])}, nil
}

// lookupAnswer reads lookupScript's answer for one event: {lease holder,
// ledger entry, parent's ledger entry, parent's state}, each a string or
// nil, or the text of what went wrong.
func lookupAnswer(answer any) ([]any, error) {
	switch v := answer.(type) {
	case []any:
		if len(v) == 4 {
			return v, nil
		}
	case string:
		return nil, errors.New(v)
	}
	return nil, fmt.Errorf("lookup answered %v (%T)", answer, answer)
}

// text is a script's string answer, "" for nil.
func text(v any) string {
	s, _ := v.(string)
	return s
}
