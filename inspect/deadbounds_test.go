package inspect

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
)

// deadStream writes n dead letters of about size bytes each straight into
// a dead-letter stream, as the pipeline writes them.
func deadStream(t *testing.T, n, size int) (redis.UniversalClient, layout.Keys) {
	t.Helper()
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	keys := layout.NewShards(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry", 1, false)[0]
	ctx := context.Background()
	data := `{"x":"` + strings.Repeat("a", size) + `"}`
	pipe := rdb.Pipeline()
	for i := range n {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: keys.Dead, Values: []any{"id", fmt.Sprint("d-", i), "account", "acc", "entity", "main",
			"key", fmt.Sprint("k-", i), "op", "upsert", "version", "1", "data", data,
			"dead_reason", "invalid", "dead_error", "op: bad", "dead_attempts", "0", "dead_at", fmt.Sprint(time.Now().UnixMilli())}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return rdb, keys
}

// One page of dead letters stays near MaxListBytes whatever the limit, and
// its cursor continues where it stopped: 40 dead letters of 512 KiB listed
// with limit 1000 come in pages of about 4 MiB, every one exactly once.
func TestListDeadBoundedInBytes(t *testing.T) {
	rdb, keys := deadStream(t, 40, 512<<10)
	ctx := context.Background()
	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		page, next, err := ListDead(ctx, rdb, keys, DeadFilter{All: true}, cursor, 1000)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if b := listedBytes(page); b > MaxListBytes+(600<<10) {
			t.Fatalf("page %d holds %d bytes, more than MaxListBytes (%d) and one entry", pages, b, MaxListBytes)
		}
		for _, d := range page {
			if seen[d.EventID] {
				t.Fatalf("%s listed twice", d.EventID)
			}
			seen[d.EventID] = true
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 40 || pages < 5 {
		t.Fatalf("%d dead letters in %d pages; want 40 in 5 or more", len(seen), pages)
	}
}

// Replay and Drop handle at most Max dead letters a call; a filter of
// thousands of ids is a set, not a list searched per entry.
func TestDropAtMostMax(t *testing.T) {
	rdb, keys := deadStream(t, 30, 10)
	ctx := context.Background()
	ops := DeadOps{RDB: rdb, Keys: keys, Instance: "op"}
	dropped, err := ops.Drop(ctx, DeadFilter{All: true, Max: 12})
	if err != nil || len(dropped) != 12 {
		t.Fatalf("dropped %d (%v), want 12", len(dropped), err)
	}
	if n, _ := rdb.XLen(ctx, keys.Dead).Result(); n != 18 {
		t.Fatalf("%d left, want 18", n)
	}
	ids := make([]string, 0, 10000)
	for i := range 10000 {
		ids = append(ids, fmt.Sprint("d-", i))
	}
	dropped, err = ops.Drop(ctx, DeadFilter{IDs: ids, Max: 10000})
	if err != nil || len(dropped) != 18 {
		t.Fatalf("dropped %d (%v) by 10,000 ids, want the 18 left", len(dropped), err)
	}
}
