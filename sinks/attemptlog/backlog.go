package attemptlog

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Backlog is what of the attempt log waits in Redis for ClickHouse.
type Backlog struct {
	// Rows are rows written to the attempts stream but not yet in ClickHouse.
	Rows int64
	// Age is the age of the oldest of them; 0 when there are none.
	Age time.Duration
}

// ReadBacklog reads the rows waiting in the attempts stream for ClickHouse
// and the age of the oldest at now (its entry id starts with the unix ms it
// was written; the exporter deletes rows once ClickHouse has them).
func ReadBacklog(ctx context.Context, rdb redis.UniversalClient, stream string, now time.Time) (Backlog, error) {
	pipe := rdb.Pipeline()
	n := pipe.XLen(ctx, stream)
	first := pipe.XRangeN(ctx, stream, "-", "+", 1)
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return Backlog{}, err
	}
	b := Backlog{Rows: n.Val()}
	if msgs := first.Val(); len(msgs) > 0 {
		ms, _, _ := strings.Cut(msgs[0].ID, "-")
		if at, err := strconv.ParseInt(ms, 10, 64); err == nil {
			b.Age = max(0, now.Sub(time.UnixMilli(at)))
		}
	}
	return b, nil
}
