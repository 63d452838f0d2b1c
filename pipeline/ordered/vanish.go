package ordered

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/streams"
)

// Entries can disappear while pending: a producer's XTRIM (or XADD MAXLEN)
// or an XDEL removes them from the stream, and the group's pending list
// still names them. Redis then answers XREADGROUP of pending entries with
// the id and no fields, and XAUTOCLAIM / XCLAIM drop them from the pending
// list and only name them (Redis 7.0). Such an entry must not be acked
// silently: with Config.Vanished set, each one is replaced, in the same
// atomic call that takes it off the pending list, by a new entry whose one
// field (Config.Vanished) holds its id, so that the loss is read, handed
// out and handled like any entry, and a crash in between loses no trace.

// claimScript claims entries left pending (XAUTOCLAIM) and appends, for
// every one it finds deleted, an entry naming it.
//
// KEYS[1] the stream
// ARGV[1] group   ARGV[2] consumer   ARGV[3] min idle, ms   ARGV[4] start id
// ARGV[5] count   ARGV[6] the field naming a deleted entry ("": append none)
// Returns XAUTOCLAIM's answer: {next start id, claimed entries, ids of the
// deleted entries it dropped from the pending list}.
var claimScript = redis.NewScript(`
local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local gone = r[3] or {}
if ARGV[6] ~= '' then
  for _, id in ipairs(gone) do redis.call('XADD', KEYS[1], '*', ARGV[6], id) end
end
return {r[1], r[2], gone}
`)

// replaceScript takes deleted entries off the group's pending list and
// appends, for each one that was still on it, an entry naming it.
//
// KEYS[1] the stream
// ARGV[1] group   ARGV[2] the field naming a deleted entry   ARGV[3..] their ids
// Returns how many were replaced (the others were acked already).
var replaceScript = redis.NewScript(`
local n = 0
for i = 3, #ARGV do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    if ARGV[2] ~= '' then redis.call('XADD', KEYS[1], '*', ARGV[2], ARGV[i]) end
    n = n + 1
  end
end
return n
`)

// touchScript resets the idle time of held entries (XCLAIM to the same
// consumer), skipping those deleted from the stream meanwhile: XCLAIM would
// drop them from the pending list, and the commit of an entry held in
// memory would then find it acked already and not be written.
//
// KEYS[1] the stream
// ARGV[1] group   ARGV[2] consumer   ARGV[3..] the ids (at most 1000)
// Returns how many were touched.
var touchScript = redis.NewScript(`
local ids = {}
for i = 3, #ARGV do
  if #redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i]) > 0 then ids[#ids + 1] = ARGV[i] end
end
local n = #ids
if n > 0 then
  ids[n + 1] = 'JUSTID'
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ids))
end
return n
`)

// autoClaim runs claimScript: the entries claimed, the next start id, and
// the ids of the deleted entries Redis dropped from the pending list
// (replaced by an entry naming each when field is set).
func autoClaim(ctx context.Context, rdb redis.UniversalClient, stream, group, consumer string, minIdle time.Duration, start string, count int, field string) ([]redis.XMessage, string, []string, error) {
	v, err := claimScript.Run(ctx, rdb, []string{stream}, group, consumer, minIdle.Milliseconds(), start, count, field).Result()
	if err != nil {
		return nil, "", nil, err
	}
	return streams.ParseAutoClaim(v)
}

// vanished takes out of msgs the entries read without fields (deleted
// while pending) and replaces them in Redis (replaceScript); it returns the
// rest and the ids replaced. When the replacing fails, the deleted entries
// stay on the pending list (a later claim finds them again) and the rest
// are handed out all the same.
func (s *Subscriber) vanished(ctx context.Context, stream string, msgs []redis.XMessage) ([]redis.XMessage, []string) {
	var gone []string
	kept := msgs[:0:0]
	for _, m := range msgs {
		if len(m.Values) == 0 {
			gone = append(gone, m.ID)
			continue
		}
		kept = append(kept, m)
	}
	if len(gone) == 0 {
		return msgs, nil
	}
	args := make([]any, 0, 2+len(gone))
	args = append(args, s.cfg.Group, s.cfg.Vanished)
	for _, id := range gone {
		args = append(args, id)
	}
	if err := replaceScript.Run(ctx, s.rdb, []string{stream}, args...).Err(); err != nil {
		s.log.Error("entries deleted from the stream while pending could not be replaced; trying again at the next claim", "stream", stream, "stream_ids", gone[:min(len(gone), 20)], "err", err)
		return kept, nil
	}
	return kept, gone
}

// logVanished says, loudly, that entries were deleted from the stream while
// pending.
func (s *Subscriber) logVanished(stream string, ids []string) {
	if len(ids) == 0 {
		return
	}
	shown := ids[:min(len(ids), 20)]
	if s.cfg.Vanished == "" {
		s.log.Error("pending entries were deleted from the stream before they were handled (XDEL or XTRIM upstream); they are gone", "stream", stream, "count", len(ids), "stream_ids", shown)
		return
	}
	s.log.Warn("pending entries were deleted from the stream before they were handled (XDEL or XTRIM upstream); each is handed on as an entry naming it", "stream", stream, "count", len(ids), "stream_ids", shown)
}
