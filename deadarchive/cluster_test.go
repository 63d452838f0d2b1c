package deadarchive

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
)

// On a Redis Cluster every shard's old dead letters are archived and
// trimmed, and every script call keeps its keys in one slot (the test
// Cluster client checks each call).
func TestArchiveOnRedisCluster(t *testing.T) {
	f := newFixture(t, testenv.RedisCluster(t), 3)
	ctx := context.Background()
	now := f.clock.Now()
	var old, young [][]string
	for i := range f.shards {
		o := []string{f.dead(i, 40*day, letter(fmt.Sprint("o", i), "sub", fmt.Sprint("k", i), 40*day, now)...)}
		f.rdb.HSet(ctx, f.shards[i].State("sub"), fmt.Sprint("k", i), fmt.Sprint("dead:o", i))
		old = append(old, o)
		young = append(young, []string{f.dead(i, time.Hour, letter(fmt.Sprint("y", i), "sub", "ky", time.Hour, now)...)})
	}
	n, err := f.archiver(NewClickHouseStore(f.ch, f.db), 0).Pass(ctx)
	if err != nil || n != 3 {
		t.Fatalf("pass: %d, %v", n, err)
	}
	for i := range f.shards {
		if got := f.ids(i); !slices.Equal(got, young[i]) {
			t.Errorf("shard %d keeps %v, want %v", i, got, young[i])
		}
		if n, _ := f.rdb.HLen(ctx, f.shards[i].State("sub")).Result(); n != 0 {
			t.Errorf("shard %d: the archived record's state is left", i)
		}
	}
	if got := streamIDs(f.archived(true)); !slices.Equal(got, sorted(old...)) {
		t.Fatalf("archived %v, want %v", got, sorted(old...))
	}
}
