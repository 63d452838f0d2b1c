package poll

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The fields of an entity's cursor hash (Config.CursorKey). cursor is
// kept across listings; the others only while a listing is under way.
const (
	fieldCursor   = "cursor"    // unix ms: the next listing asks from cursor - overlap; absent: from the beginning
	fieldSince    = "since"     // unix ms: the moment the listing under way asks from
	fieldPosition = "position"  // the listing's next page (profile.Pager.Position)
	fieldMax      = "max"       // unix ms: the newest updated time the listing has seen
	fieldStarted  = "started"   // unix ms, our clock: when the listing's first page was asked for
	fieldCaughtUp = "caught_up" // unix ms, our clock: when the last listing read to its end started
)

// State is an entity's polling state in Redis.
type State struct {
	// Cursor is the newest updated time the partner reported, less the
	// time the listing that saw it took (zero: never polled; the first
	// listing reads every record).
	Cursor time.Time
	// Listing is true while a listing stopped at its page cap is under
	// way: Since is what it asks from, Position its next page, Max the
	// newest updated time it has seen, Started when it began (our clock).
	Listing  bool
	Since    time.Time
	Position string
	Max      time.Time
	Started  time.Time
	// CaughtUp is when the last listing read to its end began (our
	// clock): every change the partner had committed a little before that
	// was read.
	CaughtUp time.Time
}

// ReadState reads the polling state kept at key (Config.CursorKey's).
func ReadState(ctx context.Context, rdb redis.UniversalClient, key string) (State, error) {
	m, err := rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return State{}, fmt.Errorf("poll state %s: %w", key, err)
	}
	ms := func(f string) (time.Time, error) {
		v, ok := m[f]
		if !ok {
			return time.Time{}, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("poll state %s: %s is %q, not unix ms", key, f, v)
		}
		return time.UnixMilli(n), nil
	}
	var s State
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{fieldCursor, &s.Cursor}, {fieldSince, &s.Since}, {fieldMax, &s.Max}, {fieldStarted, &s.Started}, {fieldCaughtUp, &s.CaughtUp}} {
		if *f.dst, err = ms(f.name); err != nil {
			return State{}, err
		}
	}
	_, s.Listing = m[fieldSince]
	s.Position = m[fieldPosition]
	return s, nil
}

// SetCursor makes the next poll of the entity whose state is at key ask
// for the changes since t (less the overlap), dropping a listing under
// way. A zero t is Reset. For operators: a poll running at that moment may
// still write its own.
func SetCursor(ctx context.Context, rdb redis.UniversalClient, key string, t time.Time) error {
	if t.IsZero() {
		return Reset(ctx, rdb, key)
	}
	_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, key, fieldSince, fieldPosition, fieldMax, fieldStarted)
		p.HSet(ctx, key, fieldCursor, t.UnixMilli())
		return nil
	})
	if err != nil {
		return fmt.Errorf("poll state %s: %w", key, err)
	}
	return nil
}

// Reset forgets the entity's cursor: its next poll reads every record the
// partner lists.
func Reset(ctx context.Context, rdb redis.UniversalClient, key string) error {
	if err := rdb.Del(ctx, key).Err(); err != nil {
		return fmt.Errorf("poll state %s: %w", key, err)
	}
	return nil
}

// errLeaseLost is a state write refused because this poller no longer
// holds the partner's lease.
var errLeaseLost = errors.New("the partner's poll lease is no longer ours: stopped")

// writeScript writes an entity's polling state if the writer still holds
// the partner's lease.
//
// KEYS[1] the lease   KEYS[2] the cursor hash
// ARGV[1] the holder's id   ARGV[2] how many fields to set, n
// ARGV[3 .. 2+2n] field, value pairs to set   ARGV[3+2n ..] fields to delete
// Returns 1 when written, 0 when the lease is not the holder's (nothing written).
var writeScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[2])
if n > 0 then redis.call('HSET', KEYS[2], unpack(ARGV, 3, 2 + 2 * n)) end
if #ARGV > 2 + 2 * n then redis.call('HDEL', KEYS[2], unpack(ARGV, 3 + 2 * n, #ARGV)) end
return 1
`)

// write sets fields and deletes del in the cursor hash at key, if holder
// still holds the lease at leaseKey; errLeaseLost otherwise.
func write(ctx context.Context, rdb redis.UniversalClient, leaseKey, key, holder string, set map[string]int64, setText map[string]string, del ...string) error {
	args := []any{holder, len(set) + len(setText)}
	for f, v := range set {
		args = append(args, f, v)
	}
	for f, v := range setText {
		args = append(args, f, v)
	}
	for _, f := range del {
		args = append(args, f)
	}
	n, err := writeScript.Run(ctx, rdb, []string{leaseKey, key}, args...).Int()
	if err != nil {
		return fmt.Errorf("poll state %s: %w", key, err)
	}
	if n == 0 {
		return errLeaseLost
	}
	return nil
}
