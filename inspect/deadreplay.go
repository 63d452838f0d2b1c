package inspect

import (
	"context"
	"time"
)

// ReplayDead replays the dead letters with one of reasons that died at or
// after since, as Replay does, and says how many it replayed; it is the
// backfill's replay of --replay-dead (backfill.DeadReplayer).
func (o DeadOps) ReplayDead(ctx context.Context, reasons []string, since time.Time) (int, error) {
	n := 0
	for _, r := range reasons {
		done, err := o.Replay(ctx, DeadFilter{Reason: r, Since: since.UnixMilli()})
		n += len(done)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
