package pipeline

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxCommitBatch bounds the commit scripts sent in one pipelined round trip.
const maxCommitBatch = 128

// commitBatcher sends the commit scripts of outcomes that are ready at the
// same time in one pipelined round trip instead of one each. Every outcome
// is still its own script call, atomic and acked first; only the network
// round trips are shared. Nothing waits for a batch to fill: the first
// caller sends at once, and whoever queues meanwhile goes in the next
// round trip (natural batching), so a lone commit costs no extra latency.
// No goroutine runs between commits.
type commitBatcher struct {
	rdb     redis.UniversalClient
	mu      sync.Mutex
	queue   []*commitReq
	sending bool
}

type commitReq struct {
	keys []string
	args []any
	n    int64
	err  error
	done chan struct{}
}

// run commits one outcome; the answer is commitScript's.
func (b *commitBatcher) run(ctx context.Context, keys []string, args []any) (int64, error) {
	r := &commitReq{keys: keys, args: args, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, r)
	lead := !b.sending
	b.sending = true
	b.mu.Unlock()
	if lead {
		b.send(r)
	}
	select {
	case <-r.done:
		return r.n, r.err
	case <-ctx.Done():
		// The script may still run: a later commit of the entry finds it
		// acked and writes nothing, so the outcome counts once.
		return 0, ctx.Err()
	}
}

// send sends queued batches until own is answered, then hands the rest of
// the queue to a goroutine of its own, so that no caller waits on others'
// commits for long; with own nil it sends until the queue is empty.
func (b *commitBatcher) send(own *commitReq) {
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.sending = false
			b.mu.Unlock()
			return
		}
		if own != nil && isClosed(own.done) {
			b.mu.Unlock()
			go b.send(nil)
			return
		}
		n := min(len(b.queue), maxCommitBatch)
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

// exec runs one batch: EVALSHA of every outcome in one pipeline; a script
// Redis does not know (after a restart) is sent again in full.
func (b *commitBatcher) exec(batch []*commitReq) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if len(batch) == 1 {
		r := batch[0]
		r.n, r.err = commitScript.Run(ctx, b.rdb, r.keys, r.args...).Int64()
		close(r.done)
		return
	}
	pipe := b.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(batch))
	for i, r := range batch {
		cmds[i] = commitScript.EvalSha(ctx, pipe, r.keys, r.args...)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own answer
	for i, r := range batch {
		r.n, r.err = cmds[i].Int64()
		if r.err != nil && redis.HasErrorPrefix(r.err, "NOSCRIPT") {
			r.n, r.err = commitScript.Run(ctx, b.rdb, r.keys, r.args...).Int64()
		}
		close(r.done)
	}
}
