package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
)

// The events stream deleted under a running pipeline is made again with
// its group; events appended afterwards are delivered.
func TestPipelineRecoversFromAVanishedStream(t *testing.T) {
	h := newHarness(t, options{})
	h.upsert("e1", "acc", "main", "k1", 1, `{}`)
	h.waitSteps("e1", "delivered")
	h.rdb.Del(context.Background(), h.keys.Events)
	h.upsert("e2", "acc", "main", "k2", 1, `{}`)
	h.waitSteps("e2", "delivered")
	h.rdb.XGroupDestroy(context.Background(), h.keys.Events, h.keys.Group)
	h.upsert("e3", "acc", "main", "k3", 1, `{}`)
	h.waitSteps("e3", "delivered")
}

// pendingThenGone makes the group, appends one entry per id of account acc
// (versions 1, 2, …), lets consumer "dead" read them all (they are pending
// under it), then runs gone to remove some of them from the stream.
func pendingThenGone(t *testing.T, rdb redis.UniversalClient, k layout.Keys, ids []string, gone func(streamIDs []string)) {
	t.Helper()
	ctx := context.Background()
	if err := rdb.XGroupCreateMkStream(ctx, k.Events, k.Group, "0").Err(); err != nil {
		t.Fatal(err)
	}
	var sids []string
	for i, id := range ids {
		sid, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: k.Events, Values: []any{"id", id, "account", "acc", "entity", "main",
			"key", id, "op", "upsert", "version", strconv.Itoa(i + 1), "data", `{}`}}).Result()
		if err != nil {
			t.Fatal(err)
		}
		sids = append(sids, sid)
	}
	if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: k.Group, Consumer: "dead", Streams: []string{k.Events, ">"}, Count: int64(len(ids))}).Err(); err != nil {
		t.Fatal(err)
	}
	gone(sids)
}

// vanishedTrace checks that each stream id left a dead letter (reason
// invalid, an error naming the id and the stream) and an `invalid` row
// with that stream id, and that the metric counted them.
func vanishedTrace(h *harness, sids []string) {
	h.t.Helper()
	testenv.WaitFor(h.t, 15*time.Second, "a dead letter for every deleted entry", func() bool { return len(h.dead()) >= len(sids) })
	dead := h.dead()
	if len(dead) != len(sids) {
		h.t.Fatalf("%d dead letters, want %d: %+v", len(dead), len(sids), dead)
	}
	for i, sid := range sids {
		d := dead[i]
		want := fmt.Sprintf("stream entry %s was deleted from %s while pending (XDEL/XTRIM upstream)", sid, h.keys.Events)
		if d.Reason != "invalid" || !strings.Contains(d.Error, want) {
			h.t.Errorf("dead letter %d: reason %q, error %q; want invalid, %q", i, d.Reason, d.Error, want)
		}
	}
	rows, err := h.rdb.XRange(context.Background(), h.keys.Attempts, "-", "+").Result()
	if err != nil {
		h.t.Fatal(err)
	}
	var invalid []string
	for _, r := range rows {
		if r.Values["step"] == "invalid" {
			invalid = append(invalid, r.Values["stream_id"].(string))
			if !strings.Contains(r.Values["error"].(string), "deleted from") {
				h.t.Errorf("invalid row without the reason: %v", r.Values)
			}
		}
	}
	if !slices.Equal(invalid, sids) {
		h.t.Errorf("invalid rows name stream ids %v, want %v", invalid, sids)
	}
	if n := testutil.ToFloat64(h.p.metrics.vanished); n != float64(len(sids)) {
		h.t.Errorf("streamsync_entries_vanished_total %v, want %d", n, len(sids))
	}
}

// An entry XDELed while pending (its consumer died) is not acked silently
// when the shard is taken over: it leaves a dead letter naming its stream
// id, an `invalid` row and a count in streamsync_entries_vanished_total.
// The entries around it are delivered.
func TestEntryDeletedWhilePendingLeavesATrace(t *testing.T) {
	var gone []string
	h := newHarness(t, options{cfg: func(c *Config) {
		rdb := testenv.Redis(t)
		pendingThenGone(t, rdb, c.Shards[0], []string{"e1", "e2", "e3"}, func(sids []string) {
			gone = sids[1:2]
			rdb.XDel(context.Background(), c.Shards[0].Events, gone...)
		})
	}})
	h.waitTerminal([]string{"e1", "e3"}, 15*time.Second)
	vanishedTrace(h, gone)
	if steps := h.steps("e1"); !slices.Equal(steps, []string{"delivered"}) {
		t.Errorf("e1: %v", steps)
	}
}

// A producer's XTRIM that cuts pending entries: each one trimmed leaves
// its trace.
func TestEntryTrimmedWhilePendingLeavesATrace(t *testing.T) {
	var gone []string
	h := newHarness(t, options{cfg: func(c *Config) {
		rdb := testenv.Redis(t)
		pendingThenGone(t, rdb, c.Shards[0], []string{"e1", "e2", "e3", "e4"}, func(sids []string) {
			gone = sids[:3]
			rdb.XTrimMaxLen(context.Background(), c.Shards[0].Events, 1)
		})
	}})
	h.waitTerminal([]string{"e4"}, 15*time.Second)
	vanishedTrace(h, gone)
}

// An entry deleted while this process holds it (its delivery is slow) is
// still this process' to finish: keeping it from being claimed (the touch)
// must not drop it from the pending list, or its outcome would be taken for
// one committed before and not written.
func TestEntryDeletedWhileHeldIsStillCommitted(t *testing.T) {
	h := newHarness(t, options{
		cfg: func(c *Config) { c.Subscriber.ClaimMinIdle = 300 * time.Millisecond }, // touched every 100 ms
		sim: func(o *partnersim.Options) { o.Faults.Latency = partnersim.Duration(time.Second) },
	})
	sid := h.upsert("e1", "acc", "main", "k1", 1, `{}`)
	ctx := context.Background()
	testenv.WaitFor(t, 10*time.Second, "the call at the partner", func() bool { return h.sim.Snapshot("").Stats.InFlight == 1 })
	h.rdb.XDel(ctx, h.keys.Events, sid)
	h.waitSteps("e1", "delivered")
}
