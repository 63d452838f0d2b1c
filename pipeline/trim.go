package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of TrimConfig.
const (
	DefaultKeepAcked = time.Minute
	DefaultTrimEvery = 5 * time.Second
)

// TrimConfig configures a Trimmer.
type TrimConfig struct {
	// Stream is the events stream.
	Stream string
	// KeepAcked is how long acked entries stay in the stream after they were
	// appended (stream.keep_acked; an entry's age is read from its id, the
	// append time in ms). 0 trims every entry as soon as every consumer
	// group has acked it.
	KeepAcked time.Duration
	// Every is how often the stream is trimmed (5s).
	Every  time.Duration
	Clock  Clock
	Logger *slog.Logger
}

func (c *TrimConfig) setDefaults() {
	if c.Every <= 0 {
		c.Every = DefaultTrimEvery
	}
	if c.Clock == nil {
		c.Clock = WallClock
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a missing stream or a negative history.
func (c TrimConfig) Validate() error {
	switch {
	case c.Stream == "":
		return errors.New("trim: stream required")
	case c.KeepAcked < 0:
		return errors.New("trim: keep acked must be 0 or more")
	}
	return nil
}

// Trimmer keeps the events stream from growing for ever: it removes the
// entries that every consumer group of the stream has read and acked, once
// they are older than KeepAcked. An entry still pending in any group, or not
// yet read by any group, is never removed; a stream without a consumer group
// is not trimmed at all. Readers without a consumer group (plain XREAD) are
// not protected.
type Trimmer struct {
	cfg TrimConfig
	rdb redis.UniversalClient
}

// NewTrimmer builds a Trimmer; Run starts it.
func NewTrimmer(cfg TrimConfig, rdb redis.UniversalClient) (*Trimmer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Trimmer{cfg: cfg, rdb: rdb}, nil
}

// Run trims every Every until ctx ends.
func (t *Trimmer) Run(ctx context.Context) {
	tick := time.NewTicker(t.cfg.Every)
	defer tick.Stop()
	for {
		if n, err := t.Trim(ctx); err != nil && ctx.Err() == nil {
			t.cfg.Logger.Error("trimming the events stream failed; trying again", "stream", t.cfg.Stream, "err", err)
		} else if n > 0 {
			t.cfg.Logger.Debug("events stream trimmed", "stream", t.cfg.Stream, "removed", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Trim removes, in one atomic call, every entry below the oldest one some
// consumer group still needs and older than KeepAcked, and returns how many
// it removed.
func (t *Trimmer) Trim(ctx context.Context) (int64, error) {
	keepBelow := t.cfg.Clock.Now().Add(-t.cfg.KeepAcked).UnixMilli()
	n, err := trimScript.Run(ctx, t.rdb, []string{t.cfg.Stream}, keepBelow).Int64()
	if err != nil {
		return 0, err
	}
	return n, nil
}

// trimScript trims a stream below what every consumer group has acked.
// For each group the first entry it may still need is its oldest pending
// entry, or, with nothing pending, the entry after its last-delivered-id;
// the stream is trimmed (XTRIM MINID, exact) below the lowest of these, and
// below ARGV[1]-0 (entries appended before that time), whichever is lower.
// Being one script, no group can move between the look and the trim.
//
// KEYS[1] the stream
// ARGV[1] unix ms: entries appended at or after it are kept
//
// Returns the number of entries removed (0 without a stream or a group).
var trimScript = redis.NewScript(`
-- idlt: stream id a < stream id b ("ms-seq", decimal, no leading zeros)
local function numlt(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end
local function idlt(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if am ~= bm then return numlt(am, bm) end
  return numlt(as, bs)
end
-- after: the id just above id (id itself when its sequence is too long to add to exactly)
local function after(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  if #seq > 13 then return id end
  return ms .. '-' .. string.format('%d', tonumber(seq) + 1)
end

if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end
local bound = ARGV[1] .. '-0'
for _, g in ipairs(groups) do
  local m = {}
  for i = 1, #g, 2 do m[g[i]] = g[i + 1] end
  local need
  if tonumber(m['pending']) > 0 then
    need = redis.call('XPENDING', KEYS[1], m['name'])[2]
  else
    need = after(m['last-delivered-id'])
  end
  if idlt(need, bound) then bound = need end
end
return redis.call('XTRIM', KEYS[1], 'MINID', bound)
`)
