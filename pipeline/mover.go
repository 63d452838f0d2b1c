package pipeline

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/handlers"
)

// moveLimit is how many members one moveDueScript call moves at most.
const moveLimit = 100

// mover puts events whose due time has come from a ZSET back into the
// events stream.
type mover struct {
	rdb      redis.UniversalClient
	keys     Keys
	zset     string
	step     handlers.Step // the row each move writes ("" for none)
	rows     bool
	instance string
	clock    Clock
	every    time.Duration
	log      *slog.Logger
	moved    func(n int)
}

func (m *mover) run(ctx context.Context) {
	t := time.NewTicker(m.every)
	defer t.Stop()
	for {
		if _, err := m.moveDue(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("moving due events failed; trying again", "zset", m.zset, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// moveDue moves every member due now, a batch per script call.
func (m *mover) moveDue(ctx context.Context) (int, error) {
	rows := "0"
	if m.rows {
		rows = "1"
	}
	total := 0
	for {
		n, err := moveDueScript.Run(ctx, m.rdb, []string{m.zset, m.keys.Payloads, m.keys.Events, m.keys.Attempts, m.keys.Steps, m.keys.Dead},
			m.clock.Now().UnixMilli(), moveLimit, string(m.step), m.instance, rows).Int()
		if err != nil {
			return total, err
		}
		total += n
		if m.moved != nil && n > 0 {
			m.moved(n)
		}
		if n < moveLimit {
			return total, nil
		}
	}
}
