package pipeline

import (
	"context"
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
	done  chan struct{}
}

// do queues the caller's commands with add, sends them with the others
// queued, and calls after once their answers are in. It returns early with
// ctx's error when ctx ends first; the commands may still run.
func (b *roundTrips) do(ctx context.Context, add func(context.Context, redis.Pipeliner), after func(context.Context)) error {
	r := &roundTrip{add: add, after: after, done: make(chan struct{})}
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

// exec sends one batch in one pipeline; each command carries its own answer.
func (b *roundTrips) exec(batch []*roundTrip) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pipe := b.rdb.Pipeline()
	for _, r := range batch {
		r.add(ctx, pipe)
	}
	_, _ = pipe.Exec(ctx)
	for _, r := range batch {
		r.after(ctx)
		close(r.done)
	}
}

// runScript sends script by its SHA in the shared round trip; a script
// Redis does not know yet (first use, or after a restart) is sent again in
// full on its own.
func (b *roundTrips) runScript(ctx context.Context, script *redis.Script, keys []string, args []any) *redis.Cmd {
	var cmd *redis.Cmd
	err := b.do(ctx, func(ctx context.Context, pipe redis.Pipeliner) {
		cmd = script.EvalSha(ctx, pipe, keys, args...)
	}, func(ctx context.Context) {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			cmd = script.Run(ctx, b.rdb, keys, args...)
		}
	})
	if err != nil {
		c := redis.NewCmd(ctx)
		c.SetErr(err)
		return c
	}
	return cmd
}
