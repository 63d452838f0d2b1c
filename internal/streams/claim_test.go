package streams

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/testenv"
)

// pendingFixture is a stream of n entries, all read by a consumer "dead"
// that never acked them: n idle entries on the group's pending list.
func pendingFixture(t *testing.T, n int) (*redis.Client, string, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Redis")
	}
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	ctx := context.Background()
	stream, group := prefix+"events", "g"
	if err := EnsureGroup(ctx, rdb, stream, group); err != nil {
		t.Fatal(err)
	}
	pipe := rdb.Pipeline()
	for i := range n {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []string{"i", fmt.Sprint(i)}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if msgs, err := ReadGroup(ctx, rdb, stream, group, "dead", ">", n, -1); err != nil || len(msgs) != n {
		t.Fatalf("read %d entries for the dead consumer (%v), want %d", len(msgs), err, n)
	}
	return rdb, stream, group
}

// Claiming walks the whole pending list: 100 idle pending entries, claimed
// 10 a pass, and the entries each pass claims stay pending (their accounts
// are busy, so nothing acks them) and count as idle again at the next pass.
// A pass that started at 0-0 every time would claim the first ten for ever;
// with the cursor every entry is claimed within the ten passes the list
// needs, each exactly once.
func TestClaimCursorWalksWholePendingList(t *testing.T) {
	const entries, count = 100, 10
	rdb, stream, group := pendingFixture(t, entries)
	ctx := context.Background()
	var cur ClaimCursor
	claimed := map[string]int{}
	for pass := 0; pass < entries/count; pass++ {
		msgs, next, _, err := AutoClaim(ctx, rdb, stream, group, "alive", 0, cur.Start(), count)
		if err != nil {
			t.Fatal(err)
		}
		cur.Advance(next)
		for _, m := range msgs {
			claimed[m.ID]++
		}
	}
	if len(claimed) != entries {
		t.Fatalf("%d of %d pending entries claimed within %d passes of %d", len(claimed), entries, entries/count, count)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Fatalf("entry %s claimed %d times within one walk of the list", id, n)
		}
	}
	// the walk has reached the list's end: the next pass starts at its front
	if got := cur.Start(); got != "0-0" {
		t.Fatalf("after the last entry the next pass starts at %s, want 0-0", got)
	}
}

func TestClaimCursorWraps(t *testing.T) {
	for _, tc := range []struct {
		name, answer, want string
	}{
		{"zero value", "-", "0-0"},
		{"middle of the list", "1700000000000-3", "1700000000000-3"},
		{"end of the list", "0-0", "0-0"},
		{"no answer", "", "0-0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c ClaimCursor
			if tc.answer != "-" {
				c.Advance(tc.answer)
			}
			if got := c.Start(); got != tc.want {
				t.Fatalf("start %q, want %q", got, tc.want)
			}
		})
	}
}
