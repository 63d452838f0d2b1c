package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/lease"
	"github.com/streamsync/streamsync/pipeline/ordered"
)

// owners decides which process reads which shard (docs/scaling.md: per-account
// order holds across processes). The entries of one stream go to many
// consumers of a group, so two processes reading one shard could deliver an
// account's later event before the other one delivers its earlier event;
// the account lease only keeps them from overlapping. So every shard has an
// owner lease (layout.Keys.Owner, the consumer name, TTL ttl) and only its holder
// reads the shard. Each process holds at most its fair share of the shards
// — ceil(shards / live processes), the live ones counted in a ZSET of
// heartbeats (Shards' Members key) — and gives up a shard beyond its share
// only once it holds none of that shard's entries, so an account's events
// are never in two processes' hands at once. A shard whose owner died is
// taken over once its lease lapses; the new owner first claims every entry
// left pending in the group, in stream order (ordered.Gate).
type owners struct {
	rdb      redis.UniversalClient
	consumer string // the lease's value: a restarted process takes its shards back at once (ConsumerName holds it)
	ttl      time.Duration
	members  string
	streams  []string          // every shard's events stream, in shard order
	lease    map[string]string // events stream → its owner lease key
	log      *slog.Logger

	mu    sync.Mutex
	owned map[string]bool
	live  int // processes seen alive at the last heartbeat (at least 1)
}

var _ ordered.Gate = (*owners)(nil)

func newOwners(rdb redis.UniversalClient, shards layout.Shards, consumer string, ttl time.Duration, log *slog.Logger) *owners {
	o := &owners{rdb: rdb, consumer: consumer, ttl: ttl, members: shards[0].Members, log: log,
		lease: map[string]string{}, owned: map[string]bool{}, live: 1}
	for _, k := range shards {
		o.streams = append(o.streams, k.Events)
		o.lease[k.Events] = k.Owner
	}
	return o
}

// leaseOf is this process' claim on stream's owner lease.
func (o *owners) leaseOf(stream string) lease.Lease {
	return lease.New(o.rdb, o.lease[stream], o.consumer, o.ttl)
}

// Read lets this process read stream while it holds the shard's owner
// lease and the shard is within its share; it takes a free shard while it
// holds fewer than its share.
func (o *owners) Read(ctx context.Context, stream string, held int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	share := int(math.Ceil(float64(len(o.streams)) / float64(o.live)))
	if o.owned[stream] {
		if !o.surplus(stream, share) {
			return true
		}
		if held == 0 { // nothing of this shard in hand: hand it over
			o.release(ctx, stream)
			o.log.Info("shard handed over to balance the processes", "stream", stream, "processes", o.live)
		}
		return false
	}
	if len(o.owned) >= share {
		return false
	}
	ok, err := o.leaseOf(stream).Take(ctx)
	if err != nil {
		o.log.Warn("shard owner lease not taken", "stream", stream, "err", err)
		return false
	}
	if ok {
		o.owned[stream] = true
	}
	return ok
}

// Kept reports whether this process still holds stream's owner lease in
// Redis (not only in its own memory: it may have been paused past the
// lease). When it does not, or Redis cannot say, the shard is dropped from
// those it owns: what was read is left to the shard's reader, which may be
// this process again once Redis answers (it then claims it back, in order).
func (o *owners) Kept(ctx context.Context, stream string) bool {
	held, err := o.leaseOf(stream).Held(ctx)
	if held {
		return true
	}
	o.mu.Lock()
	if err != nil && o.owned[stream] {
		delete(o.owned, stream)
		o.log.Warn("cannot tell whether this process still owns the shard (Redis did not answer); it stops reading it until it can", "stream", stream, "err", err)
	}
	o.lost(stream)
	o.mu.Unlock()
	return false
}

// lost drops a shard whose lease another process has taken (this one
// stalled past its TTL). o.mu is held.
func (o *owners) lost(stream string) {
	if o.owned[stream] {
		delete(o.owned, stream)
		o.log.Warn("shard owner lease lost (this process stalled past its TTL); another process reads the shard", "stream", stream)
	}
}

// owns reports whether this process holds stream's owner lease.
func (o *owners) owns(stream string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.owned[stream]
}

// surplus reports whether stream is one this process should give up: it
// holds more than share shards, and stream is past the first share of them
// in shard order.
func (o *owners) surplus(stream string, share int) bool {
	if len(o.owned) <= share {
		return false
	}
	n := 0
	for _, s := range o.streams {
		if o.owned[s] {
			n++
			if s == stream {
				return n > share
			}
		}
	}
	return false
}

// release gives up a shard's lease if this process holds it.
func (o *owners) release(ctx context.Context, stream string) {
	delete(o.owned, stream)
	if _, err := o.leaseOf(stream).Release(ctx); err != nil {
		o.log.Warn("shard owner lease not released; it lapses by itself", "stream", stream, "err", err)
	}
}

// run keeps this process' heartbeat and its leases fresh every ttl/3 (every
// second at most, so that a process that joins gets its share soon) until
// ctx ends. The caller then calls leave, once the shards' entries in hand
// are finished.
func (o *owners) run(ctx context.Context) {
	o.beat(ctx)
	t := time.NewTicker(min(max(o.ttl/3, 10*time.Millisecond), time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			o.beat(ctx)
		}
	}
}

// beat renews this process' place among the live ones and the leases it
// holds, and counts the live processes. A lease found taken by another
// process (this one stalled past its TTL) is dropped: its shard is read
// by the other one.
func (o *owners) beat(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, max(o.ttl/3, time.Second))
	defer cancel()
	now := time.Now()
	pipe := o.rdb.Pipeline()
	pipe.ZAdd(ctx, o.members, redis.Z{Score: float64(now.Add(o.ttl).UnixMilli()), Member: o.consumer})
	pipe.ZRemRangeByScore(ctx, o.members, "-inf", "("+strconv.FormatInt(now.UnixMilli(), 10))
	live := pipe.ZCard(ctx, o.members)
	o.mu.Lock()
	owned := slices.Collect(maps.Keys(o.owned))
	o.mu.Unlock()
	renewed := make([]*redis.Cmd, len(owned))
	for i, s := range owned {
		renewed[i] = o.leaseOf(s).RenewIn(ctx, pipe)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		o.log.Warn("shard owner heartbeat failed; trying again", "err", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if n, err := live.Result(); err == nil && n > 0 {
		o.live = int(n)
	}
	for i, s := range owned {
		if n, err := renewed[i].Int(); err == nil && n == 0 {
			o.lost(s)
		}
	}
}

// leave gives up every shard and this process' heartbeat, so that other
// processes take the shards at once.
func (o *owners) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	o.mu.Lock()
	for s := range o.owned {
		o.release(ctx, s)
	}
	o.mu.Unlock()
	_ = o.rdb.ZRem(ctx, o.members, o.consumer).Err()
}
