package pipeline

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/redisretry"
)

// moveLimit is how many members one layout.MoveDue call moves at most.
const moveLimit = 100

// mover puts events whose due time has come from a ZSET back into the
// events stream. It calls Redis only when something may be due: when the
// earliest member it last saw is due by its clock, when a commit of this
// process put a member in (poke), and at least once a second (another
// process may have); and only while this process owns the shard.
type mover struct {
	rdb      redis.UniversalClient
	keys     layout.Keys
	zset     string
	step     handlers.Step // the row each move writes ("" for none)
	rows     bool
	instance string
	clock    Clock
	every    time.Duration
	log      *slog.Logger
	moved    func(n int)
	owned    func() bool   // this process reads the shard
	poke     chan struct{} // buffered 1: a member was just added
}

// lookEvery bounds how long a mover goes without looking at its ZSET.
const lookEvery = time.Second

func (m *mover) run(ctx context.Context) {
	t := time.NewTicker(m.every)
	defer t.Stop()
	next := int64(-1) // due time of the earliest member (ms); -1 unknown, math.MaxInt64 none
	var looked time.Time
	for {
		poked := false
		select {
		case <-m.poke:
			poked = true
		default:
		}
		if m.owned() && (poked || next < 0 || m.clock.Now().UnixMilli() >= next || time.Since(looked) >= lookEvery) {
			var err error
			if _, next, err = m.moveDue(ctx); err != nil {
				next = -1
				if ctx.Err() == nil {
					level := slog.LevelError
					if redisretry.Transient(err) {
						level = slog.LevelWarn // a failover or a reshard under way: it passes
					}
					m.log.Log(ctx, level, "moving due events failed; trying again", "zset", m.zset, "err", err)
				}
			}
			looked = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// wake tells the mover a member was just added.
func (m *mover) wake() {
	select {
	case m.poke <- struct{}{}:
	default:
	}
}

// moveDue moves every member due now, a batch per script call, and
// reports the due time of the earliest member left (math.MaxInt64: none).
func (m *mover) moveDue(ctx context.Context) (int, int64, error) {
	total := 0
	for {
		n, next, err := layout.MoveDue(ctx, m.rdb, m.keys, m.zset, m.clock.Now(), moveLimit, m.step, m.instance, m.rows)
		if err != nil {
			return total, -1, err
		}
		total += n
		if m.moved != nil && n > 0 {
			m.moved(n)
		}
		if n < moveLimit {
			return total, next, nil
		}
	}
}
