package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxRoundTripBatch bounds the callers whose commands share one pipelined
// round trip; maxSenders the round trips under way at once (so that one
// slow round trip does not hold up every event in flight).
const (
	maxRoundTripBatch = 128
	maxSenders        = 4
)

// roundTrips lets the Redis calls of events in flight at the same time
// share pipelined round trips instead of one each: the lookups of many
// events in one, the commit scripts of many outcomes in one. Every caller's
// commands are its own (each commit still one atomic, acked-first script);
// only the network round trip is shared. Nothing waits for a batch to fill:
// a caller sends at once when fewer than maxSenders round trips are under
// way, and whoever queues meanwhile goes in the next one (natural batching),
// so a lone call costs no extra latency. No goroutine runs while nothing is
// queued.
type roundTrips struct {
	rdb     redis.UniversalClient
	mu      sync.Mutex
	queue   []*roundTrip
	senders int // round trips being sent
}

type roundTrip struct {
	add   func(ctx context.Context, pipe redis.Pipeliner) // queue the caller's commands
	after func(ctx context.Context)                       // read their answers (and retry what needs it)
	part  *scriptPart                                     // or: the caller's share of a combined script call
	done  chan struct{}
}

// scriptPart is one caller's share of a script call that takes many
// callers' work at once (commitScript: ARGV[1] the number of parts, then
// each part's keys and arguments one after the other, one answer per part).
// The parts of one script and group queued for the same round trip go in
// one call.
type scriptPart struct {
	script *redis.Script
	group  string // parts of one group share a call: a shard's events stream (one hash slot)
	keys   []string
	args   []any
	answer any // the script's answer for this part
	err    error
}

// maxCombinedArgs bounds the arguments of one combined script call; a part
// larger than that (a very wide dead letter) goes in a call of its own.
const maxCombinedArgs = 20000

// do queues the caller's commands with add, sends them with the others
// queued, and calls after once their answers are in. It returns early with
// ctx's error when ctx ends first; the commands may still run.
func (b *roundTrips) do(ctx context.Context, add func(context.Context, redis.Pipeliner), after func(context.Context)) error {
	return b.enqueue(ctx, &roundTrip{add: add, after: after, done: make(chan struct{})})
}

// runPart runs the caller's part of a combined call of script (see
// scriptPart) in the shared round trip and returns the script's answer for
// it.
func (b *roundTrips) runPart(ctx context.Context, script *redis.Script, group string, keys []string, args []any) (any, error) {
	p := &scriptPart{script: script, group: group, keys: keys, args: args}
	if err := b.enqueue(ctx, &roundTrip{part: p, done: make(chan struct{})}); err != nil {
		return nil, err
	}
	return p.answer, p.err
}

func (b *roundTrips) enqueue(ctx context.Context, r *roundTrip) error {
	b.mu.Lock()
	b.queue = append(b.queue, r)
	lead := b.senders < maxSenders
	if lead {
		b.senders++
	}
	b.mu.Unlock()
	if lead {
		b.send(r)
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// send sends queued batches until own is answered, then hands the rest of
// the queue to a goroutine of its own, so that no caller waits on others'
// calls for long; with own nil it sends until the queue is empty.
func (b *roundTrips) send(own *roundTrip) {
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

// exec sends one batch in one pipeline; each command carries its own answer,
// and the parts of a combined script call get theirs from the call's.
func (b *roundTrips) exec(batch []*roundTrip) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pipe := b.rdb.Pipeline()
	calls := combine(batch)
	for _, r := range batch {
		if r.add != nil {
			r.add(ctx, pipe)
		}
	}
	for _, c := range calls {
		c.cmd = c.script.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx)
	for _, c := range calls {
		if redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") {
			c.cmd = c.script.Run(ctx, b.rdb, c.keys, c.args...)
		}
		c.spread()
	}
	for _, r := range batch {
		if r.after != nil {
			r.after(ctx)
		}
		close(r.done)
	}
}

// combinedCall is one script call carrying the parts of many callers.
type combinedCall struct {
	n      int // its place among the calls of a batch
	script *redis.Script
	parts  []*scriptPart
	keys   []string
	args   []any // ARGV[1] is len(parts)
	cmd    *redis.Cmd
}

// combine gathers the script parts of batch into calls, one per script and
// group (and more when the arguments would pass maxCombinedArgs), in the
// order the callers queued.
func combine(batch []*roundTrip) []*combinedCall {
	type callID struct {
		script *redis.Script
		group  string
	}
	var calls []*combinedCall
	var open map[callID]*combinedCall
	var nArgs []int
	for _, r := range batch {
		p := r.part
		if p == nil {
			continue
		}
		if open == nil {
			open = map[callID]*combinedCall{}
		}
		id := callID{p.script, p.group}
		c := open[id]
		if c == nil || nArgs[c.n]+len(p.args) > maxCombinedArgs {
			c = &combinedCall{script: p.script, n: len(calls)}
			open[id] = c
			calls = append(calls, c)
			nArgs = append(nArgs, 1)
		}
		c.parts = append(c.parts, p)
		nArgs[c.n] += len(p.args)
	}
	// one allocation each for the keys and arguments of a call
	for _, c := range calls {
		nk := 0
		for _, p := range c.parts {
			nk += len(p.keys)
		}
		c.keys = make([]string, 0, nk)
		c.args = make([]any, 1, nArgs[c.n])
		c.args[0] = len(c.parts)
		for _, p := range c.parts {
			c.keys = append(c.keys, p.keys...)
			c.args = append(c.args, p.args...)
		}
	}
	return calls
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
