package layout

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/redisretry"
)

// maxRoundTripBatch bounds the callers whose commands share one pipelined
// round trip; maxSenders the round trips under way at once (so that one
// slow round trip does not hold up every event in flight).
const (
	maxRoundTripBatch = 128
	maxSenders        = 4
)

// RoundTrips lets the Redis calls of events in flight at the same time
// share pipelined round trips instead of one each: the lookups of many
// events in one script call per shard (Lookup), the commits of many
// outcomes in another (Commit; see scriptPart). Every caller's work is its own (each commit
// still atomic and acked first, with an answer of its own); only the call
// and the network round trip are shared. Nothing waits for a batch to fill:
// a caller sends at once when fewer than maxSenders round trips are under
// way, and whoever queues meanwhile goes in the next one (natural batching),
// so a lone call costs no extra latency. No goroutine runs while nothing is
// queued.
type RoundTrips struct {
	rdb     redis.UniversalClient
	mu      sync.Mutex
	queue   []*scriptPart
	senders int // round trips being sent
}

// NewRoundTrips shares round trips to rdb among the callers of Lookup and
// Commit.
func NewRoundTrips(rdb redis.UniversalClient) *RoundTrips { return &RoundTrips{rdb: rdb} }

// scriptPart is one caller's share of a script call that takes many
// callers' work at once (commitScript, lookupScript: ARGV[1] the number of
// parts, then each part's keys and arguments one after the other, one
// answer per part). The parts of one script and group queued for the same
// round trip go in one call.
type scriptPart struct {
	script *redis.Script
	group  string // parts of one group share a call: a shard's events stream (one hash slot)
	// shared are the keys the call takes once, before the parts' own
	// (commitScript's shard keys); nil: none. Parts share a call only when
	// their shared keys are the same.
	shared *[sharedKeys]string
	keys   []string
	args   []any
	answer any // the script's answer for this part
	err    error
	done   chan struct{} // closed once answer or err is set
}

// maxCombinedArgs bounds the arguments of one combined script call; a part
// larger than that (a very wide dead letter) goes in a call of its own.
const maxCombinedArgs = 20000

// runPart runs the caller's part of a combined call of script (see
// scriptPart) in the shared round trip and returns the script's answer for
// it. It returns early with ctx's error when ctx ends first; the part may
// still run.
func (b *RoundTrips) runPart(ctx context.Context, script *redis.Script, group string, keys []string, args []any) (any, error) {
	return b.runShared(ctx, script, group, nil, keys, args)
}

// runShared is runPart for a script that takes shared keys once per call
// (see scriptPart.shared) before the parts' own.
func (b *RoundTrips) runShared(ctx context.Context, script *redis.Script, group string, shared *[sharedKeys]string, keys []string, args []any) (any, error) {
	p := &scriptPart{script: script, group: group, shared: shared, keys: keys, args: args, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	lead := b.senders < maxSenders
	if lead {
		b.senders++
	}
	b.mu.Unlock()
	if lead {
		b.send(p)
	}
	select {
	case <-p.done:
		return p.answer, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// send sends queued batches until own is answered, then hands the rest of
// the queue to a goroutine of its own, so that no caller waits on others'
// calls for long; with own nil it sends until the queue is empty.
func (b *RoundTrips) send(own *scriptPart) {
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.senders--
			b.mu.Unlock()
			return
		}
		if own != nil && isClosed(own.done) {
			b.mu.Unlock()
			go b.send(nil)
			return
		}
		n := min(len(b.queue), maxRoundTripBatch)
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()
		b.exec(batch)
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// exec sends one batch in one pipeline: a combined call per script and
// group, each part getting its answer from its call's.
func (b *RoundTrips) exec(batch []*scriptPart) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pipe := b.rdb.Pipeline()
	calls := combine(batch)
	for _, c := range calls {
		c.cmd = redis.NewCmd(ctx, c.cmdArgs...)
		c.cmd.SetFirstKeyPos(3)
		_ = pipe.Process(ctx, c.cmd)
	}
	_, _ = pipe.Exec(ctx)
	for _, c := range calls {
		// A flushed script cache (NOSCRIPT: EvalSha in a pipeline does not
		// fall back by itself), a failover or a reshard under way (READONLY,
		// TRYAGAIN, MOVED/ASK, a reset connection …): the call alone again,
		// the whole script, with backoff until ctx ends. A commit that ran
		// before its answer was lost is recognised as committed.
		if redisretry.Transient(c.cmd.Err()) {
			_ = redisretry.Do(ctx, func(ctx context.Context) error {
				keys, args := c.keysAndArgs()
				c.cmd = c.script.Run(ctx, b.rdb, keys, args...)
				return c.cmd.Err()
			})
		}
		c.spread()
	}
	for _, p := range batch {
		close(p.done)
	}
}

// combinedCall is one script call carrying the parts of many callers.
type combinedCall struct {
	script       *redis.Script
	parts        []*scriptPart
	nkeys, nargs int // of its parts, ARGV[1] included
	// cmdArgs is the whole EVALSHA command: the script's SHA1, the number of
	// keys, the keys, then the arguments, ARGV[1] being len(parts). Built
	// once: go-redis' EvalSha would copy the keys and arguments again.
	cmdArgs []any
	cmd     *redis.Cmd
}

// keysAndArgs are the call's keys and arguments (ARGV[1] included), for
// running the script again on its own.
func (c *combinedCall) keysAndArgs() ([]string, []any) {
	keys := make([]string, 0, c.nkeys)
	for _, k := range c.cmdArgs[3 : 3+c.nkeys] {
		keys = append(keys, k.(string))
	}
	return keys, c.cmdArgs[3+c.nkeys:]
}

// combine gathers the parts of batch into calls, one per script and group
// (and more when the arguments would pass maxCombinedArgs), in the order
// the callers queued.
func combine(batch []*scriptPart) []*combinedCall {
	type callID struct {
		script *redis.Script
		group  string
	}
	var calls []*combinedCall
	open := map[callID]*combinedCall{}
	for _, p := range batch {
		id := callID{p.script, p.group}
		c := open[id]
		if c == nil || c.nargs+len(p.args) > maxCombinedArgs || !sameShared(c.parts[0].shared, p.shared) {
			c = &combinedCall{script: p.script, nargs: 1}
			if p.shared != nil {
				c.nkeys = sharedKeys
			}
			open[id] = c
			calls = append(calls, c)
		}
		c.parts = append(c.parts, p)
		c.nkeys += len(p.keys)
		c.nargs += len(p.args)
	}
	// one allocation for the whole command of a call
	for _, c := range calls {
		c.cmdArgs = make([]any, 3, 3+c.nkeys+c.nargs)
		c.cmdArgs[0], c.cmdArgs[1], c.cmdArgs[2] = "evalsha", c.script.Hash(), c.nkeys
		if sh := c.parts[0].shared; sh != nil {
			for _, k := range sh {
				c.cmdArgs = append(c.cmdArgs, k)
			}
		}
		for _, p := range c.parts {
			for _, k := range p.keys {
				c.cmdArgs = append(c.cmdArgs, k)
			}
		}
		c.cmdArgs = append(c.cmdArgs, len(c.parts))
		for _, p := range c.parts {
			c.cmdArgs = append(c.cmdArgs, p.args...)
		}
	}
	return calls
}

// sameShared says whether two parts' shared keys are the same.
func sameShared(a, b *[sharedKeys]string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// spread hands each part its answer: the call's error, or its element of
// the call's list.
func (c *combinedCall) spread() {
	answers, err := c.cmd.Slice()
	if err == nil && len(answers) != len(c.parts) {
		err = fmt.Errorf("%d answers for %d parts", len(answers), len(c.parts))
	}
	for i, p := range c.parts {
		if err != nil {
			p.err = err
			continue
		}
		p.answer = answers[i]
	}
}
