package ordered

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// acker sends acks as one XACK per batch.
type acker struct {
	rdb           redis.UniversalClient
	stream, group string
	batch         int
	interval      time.Duration
	log           *slog.Logger
	in            chan string
	quit          chan struct{}
	done          chan struct{}
}

func newAcker(rdb redis.UniversalClient, stream, group string, batch int, interval time.Duration, log *slog.Logger) *acker {
	return &acker{rdb: rdb, stream: stream, group: group, batch: batch, interval: interval, log: log,
		in: make(chan string, 4*batch), quit: make(chan struct{}), done: make(chan struct{})}
}

func (a *acker) add(id string) { a.in <- id }

// run sends the acks: a batch once it is full, else interval after its
// first id. No timer runs while nothing waits to be acked.
func (a *acker) run() {
	defer close(a.done)
	t := time.NewTimer(a.interval)
	t.Stop()
	var due <-chan time.Time // set while ids wait
	ids := make([]string, 0, a.batch)
	for {
		select {
		case id := <-a.in:
			ids = append(ids, id)
			if len(ids) >= a.batch {
				ids = a.flush(ids)
			}
			if len(ids) == 0 {
				t.Stop()
				due = nil
			} else if due == nil {
				t.Reset(a.interval)
				due = t.C
			}
		case <-due:
			due = nil
			if ids = a.flush(ids); len(ids) > 0 { // failed: try again later
				t.Reset(a.interval)
				due = t.C
			}
		case <-a.quit:
			for {
				select {
				case id := <-a.in:
					ids = append(ids, id)
				default:
					a.flush(ids)
					return
				}
			}
		}
	}
}

// flush acks ids; on failure they are kept for the next try (an entry not
// acked is only handed out again, never lost).
func (a *acker) flush(ids []string) []string {
	if len(ids) == 0 {
		return ids
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.rdb.XAck(ctx, a.stream, a.group, ids...).Err(); err != nil {
		a.log.Error("ack failed; will try again", "count", len(ids), "err", err)
		return ids
	}
	return ids[:0]
}

func (a *acker) stop() {
	select {
	case <-a.quit:
	default:
		close(a.quit)
	}
	<-a.done
}
