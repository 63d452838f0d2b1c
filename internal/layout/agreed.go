package layout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Agreement is what the two sides of a two-way partner last agreed on for
// one record (docs/partners.md, "No loops" and "Conflicts"), as the
// partner's Agreed hash keeps it: "<content hash>|<our version>|<their
// version>". Hash is the partner profile's compare hash of the content
// streamsync last wrote to or heard from either side ("-": deleted; ""
// when only versions are known); Ours and Theirs are the highest version of
// each side that is settled: a change of that side at or below it is
// already applied or was overruled. Writer is the event that last wrote
// Hash to a side (recorded before the write): that very event coming
// again is a retry, not an echo.
type Agreement struct {
	Found  bool
	Hash   string
	Ours   int64
	Theirs int64
	Writer string
}

// String is the stored form: "<hash>|<ours>|<theirs>", and "|<writer>"
// when there is one (an event id, which may hold "|": it goes last).
func (a Agreement) String() string {
	s := a.Hash + "|" + strconv.FormatInt(a.Ours, 10) + "|" + strconv.FormatInt(a.Theirs, 10)
	if a.Writer != "" {
		s += "|" + a.Writer
	}
	return s
}

// ParseAgreement reads a stored agreement; "" or an unreadable value is
// not Found.
func ParseAgreement(s string) Agreement {
	p := strings.SplitN(s, "|", 4)
	if len(p) < 3 {
		return Agreement{}
	}
	o, err1 := strconv.ParseInt(p[1], 10, 64)
	t, err2 := strconv.ParseInt(p[2], 10, 64)
	if err1 != nil || err2 != nil {
		return Agreement{}
	}
	a := Agreement{Found: true, Hash: p[0], Ours: o, Theirs: t}
	if len(p) == 4 {
		a.Writer = p[3]
	}
	return a
}

// ReadAgreement is k's agreement for one record.
func ReadAgreement(ctx context.Context, rdb redis.Cmdable, k Keys, entity, key string) (Agreement, error) {
	s, err := rdb.HGet(ctx, k.Agreed(entity), key).Result()
	if errors.Is(err, redis.Nil) {
		return Agreement{}, nil
	}
	if err != nil {
		return Agreement{}, fmt.Errorf("agreement %s/%s: %w", entity, key, err)
	}
	return ParseAgreement(s), nil
}

// agreeScript updates one record's agreement: the hash when ARGV[2] is not
// empty, each side's version when the one given is higher (never down).
//
// KEYS[1] the entity's Agreed hash
// ARGV[1] record key  ARGV[2] hash ("" keeps it)  ARGV[3] our version  ARGV[4] their version
// ARGV[5] the writer's event id ("" keeps it)
var agreeScript = redis.NewScript(`
-- versions are compared as decimal strings (int64 does not fit Lua's numbers)
local function higher(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local h, o, t, w = '', '0', '0', ''
if cur then
  local a, b, c, d = string.match(cur, '^([^|]*)|(%d+)|(%d+)|?(.*)$')
  if a then h, o, t, w = a, b, c, d end
end
if ARGV[2] ~= '' then h = ARGV[2] end
if string.match(ARGV[3], '^%d+$') and higher(ARGV[3], o) then o = ARGV[3] end
if string.match(ARGV[4], '^%d+$') and higher(ARGV[4], t) then t = ARGV[4] end
if ARGV[5] ~= '' then w = ARGV[5] end
local v = h .. '|' .. o .. '|' .. t
if w ~= '' then v = v .. '|' .. w end
redis.call('HSET', KEYS[1], ARGV[1], v)
return 1
`)

// Agree records what both sides of k's partner now hold for one record:
// hash ("" keeps the one kept) and each side's settled version, each kept
// when the one given is lower (0: unknown).
func Agree(ctx context.Context, rdb redis.Scripter, k Keys, entity, key, hash string, ours, theirs int64) error {
	return AgreeWriter(ctx, rdb, k, entity, key, hash, ours, theirs, "")
}

// AgreeWriter is Agree that also records writer, the event about to write
// hash to a side ("" keeps the one kept).
func AgreeWriter(ctx context.Context, rdb redis.Scripter, k Keys, entity, key, hash string, ours, theirs int64, writer string) error {
	if err := agreeScript.Run(ctx, rdb, []string{k.Agreed(entity)}, key, hash, strconv.FormatInt(max(ours, 0), 10), strconv.FormatInt(max(theirs, 0), 10), writer).Err(); err != nil {
		return fmt.Errorf("agreement %s/%s: %w", entity, key, err)
	}
	return nil
}

// Conflicts is the hash of one entity's conflicts waiting for an operator
// (a manual policy's dead letters): record key → the conflict as JSON
// (package twoway). Both directions of the partner share it.
func (k Keys) Conflicts(entity string) string { return k.pairKey("conflicts", entity) }
