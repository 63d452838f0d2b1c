package attemptlog

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/testenv"
)

func TestReadBacklog(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	ctx := context.Background()
	stream := prefix + "attempts"
	tests := []struct {
		name string
		ids  []string // entry ids added before the read
		now  time.Time
		want Backlog
	}{
		{name: "no stream", now: time.UnixMilli(5000), want: Backlog{}},
		{name: "oldest row's age", ids: []string{"2000-0", "3000-0"}, now: time.UnixMilli(5000), want: Backlog{Rows: 2, Age: 3 * time.Second}},
		{name: "a clock behind the rows", now: time.UnixMilli(1000), want: Backlog{Rows: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, id := range tt.ids {
				if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, ID: id, Values: []any{"row_id", id}}).Err(); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ReadBacklog(ctx, rdb, stream, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("backlog %+v, want %+v", got, tt.want)
			}
		})
	}
}
