package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/testenv"
)

// trimFixture is a stream of ten entries with explicit ids 1000-1 … 1000-10
// (appended at unix ms 1000) and a trimmer whose clock says 5000 ms.
func trimFixture(t *testing.T, keep time.Duration) (*redis.Client, string, *Trimmer, []string) {
	t.Helper()
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	stream := prefix + "events"
	ctx := context.Background()
	var ids []string
	for i := 1; i <= 10; i++ {
		id := fmt.Sprintf("1000-%d", i)
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, ID: id, Values: []string{"id", id}}).Err(); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	clock := &fakeClock{now: time.UnixMilli(5000)}
	tr, err := NewTrimmer(TrimConfig{Stream: stream, KeepAcked: keep, Clock: clock}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	return rdb, stream, tr, ids
}

func readN(t *testing.T, rdb *redis.Client, stream, group string, n int64) []string {
	t.Helper()
	res, err := rdb.XReadGroup(context.Background(), &redis.XReadGroupArgs{Group: group, Consumer: "c", Streams: []string{stream, ">"}, Count: n}).Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range res[0].Messages {
		ids = append(ids, m.ID)
	}
	return ids
}

func remaining(t *testing.T, rdb *redis.Client, stream string) []string {
	t.Helper()
	xs, err := rdb.XRange(context.Background(), stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, x := range xs {
		ids = append(ids, x.ID)
	}
	return ids
}

func trimAndCheck(t *testing.T, rdb *redis.Client, stream string, tr *Trimmer, wantRemoved int64, wantLeft []string) {
	t.Helper()
	n, err := tr.Trim(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	left := remaining(t, rdb, stream)
	if n != wantRemoved || fmt.Sprint(left) != fmt.Sprint(wantLeft) {
		t.Fatalf("trim removed %d, left %v; want %d removed, left %v", n, left, wantRemoved, wantLeft)
	}
}

// Two consumer groups, each with pending and unread entries: the stream is
// trimmed only below what both have read and acked, never an entry pending
// in one of them or not yet read by one of them.
func TestTrimTwoGroupsWithPending(t *testing.T) {
	rdb, stream, tr, ids := trimFixture(t, 0)
	ctx := context.Background()
	for _, g := range []string{"a", "b"} {
		if err := rdb.XGroupCreate(ctx, stream, g, "0").Err(); err != nil {
			t.Fatal(err)
		}
	}
	// a: reads all ten, acks 1-6 except 3. b: reads 1-5, acks them all.
	readN(t, rdb, stream, "a", 10)
	rdb.XAck(ctx, stream, "a", ids[0], ids[1], ids[3], ids[4], ids[5])
	readN(t, rdb, stream, "b", 5)
	rdb.XAck(ctx, stream, "b", ids[:5]...)
	// a still needs 3 (pending): 1 and 2 go.
	trimAndCheck(t, rdb, stream, tr, 2, ids[2:])

	// a acks 3; b has not read 6 yet: 3, 4, 5 go; 6 stays for b.
	rdb.XAck(ctx, stream, "a", ids[2])
	trimAndCheck(t, rdb, stream, tr, 3, ids[5:])

	// b reads the rest but acks only up to 8: 9 and 10 are pending in b.
	readN(t, rdb, stream, "b", 10)
	rdb.XAck(ctx, stream, "b", ids[5:8]...)
	rdb.XAck(ctx, stream, "a", ids[6:]...)
	trimAndCheck(t, rdb, stream, tr, 3, ids[8:])

	// Everything acked everywhere: nothing is left.
	rdb.XAck(ctx, stream, "b", ids[8:]...)
	trimAndCheck(t, rdb, stream, tr, 2, nil)

	// The pipeline's view of each group is intact.
	groups, err := rdb.XInfoGroups(ctx, stream).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if g.Pending != 0 || g.LastDeliveredID != ids[9] {
			t.Errorf("group %s after trimming: %+v", g.Name, g)
		}
	}
}

// A group that has read nothing (created at 0) holds every entry.
func TestTrimNeverRemovesUnread(t *testing.T) {
	rdb, stream, tr, ids := trimFixture(t, 0)
	ctx := context.Background()
	rdb.XGroupCreate(ctx, stream, "a", "0")
	readN(t, rdb, stream, "a", 10)
	rdb.XAck(ctx, stream, "a", ids...)
	rdb.XGroupCreate(ctx, stream, "late", "0")
	trimAndCheck(t, rdb, stream, tr, 0, ids)
}

// Without any consumer group nobody has acked anything: nothing is trimmed.
func TestTrimWithoutGroups(t *testing.T) {
	rdb, stream, tr, ids := trimFixture(t, 0)
	trimAndCheck(t, rdb, stream, tr, 0, ids)
	// And a stream that does not exist is not an error.
	tr2, _ := NewTrimmer(TrimConfig{Stream: stream + ":none"}, rdb)
	if n, err := tr2.Trim(context.Background()); n != 0 || err != nil {
		t.Fatalf("trim of a missing stream = %d, %v", n, err)
	}
}

// KeepAcked keeps acked entries younger than it: entries appended at 1000 ms
// stay while the clock says 5000 ms and the history kept is 4.5 s, and go
// with 3 s.
func TestTrimKeepsAckedHistory(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		keep time.Duration
		left int
	}{{4500 * time.Millisecond, 10}, {3 * time.Second, 0}} {
		t.Run(tt.keep.String(), func(t *testing.T) {
			rdb, stream, tr, ids := trimFixture(t, tt.keep)
			rdb.XGroupCreate(ctx, stream, "a", "0")
			readN(t, rdb, stream, "a", 10)
			rdb.XAck(ctx, stream, "a", ids...)
			trimAndCheck(t, rdb, stream, tr, int64(10-tt.left), ids[10-tt.left:])
		})
	}
}

func TestTrimConfig(t *testing.T) {
	if _, err := NewTrimmer(TrimConfig{Stream: "s", KeepAcked: -time.Second}, nil); err == nil {
		t.Error("negative history accepted")
	}
	if _, err := NewTrimmer(TrimConfig{}, nil); err == nil {
		t.Error("missing stream accepted")
	}
}
