package pipeline

import (
	"context"
	"fmt"
	"github.com/streamsync/streamsync/inspect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
)

// With four shards every account's events go through its own shard's
// stream (crc32(account) mod 4), all are delivered, and status adds the
// shards up while reporting each.
func TestShardsDeliverEveryAccount(t *testing.T) {
	h := newHarness(t, options{shards: 4})
	var ids []string
	for i := range 60 {
		id := fmt.Sprintf("e%d", i)
		ids = append(ids, id)
		h.upsert(id, fmt.Sprintf("acc-%d", i%20), "main", fmt.Sprintf("k%d", i), 1, `{}`)
	}
	h.waitTerminal(ids, 30*time.Second)
	ctx := context.Background()
	for i, k := range h.shards {
		rows, _ := h.rdb.XRange(ctx, k.Attempts, "-", "+").Result()
		for _, r := range rows {
			if acc := r.Values["account"].(string); layout.ShardOf(acc, 4) != i {
				t.Errorf("account %s (shard %d) has a row in shard %d", acc, layout.ShardOf(acc, 4), i)
			}
		}
	}
	st, err := inspect.ReadShardsStatus(ctx, h.rdb, h.shards)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Shards) != 4 || st.Steps["delivered"] != 60 || st.Pending != 0 {
		t.Fatalf("status %+v", st)
	}
	var sum int64
	for i, s := range st.Shards {
		if s.Stream != h.shards[i].Events {
			t.Errorf("shard %d status names %s", i, s.Stream)
		}
		sum += s.Steps["delivered"]
	}
	if sum != 60 {
		t.Fatalf("shards delivered %d in all", sum)
	}
	if len(h.partnerKeys()) != 60 {
		t.Fatalf("partner has %d records", len(h.partnerKeys()))
	}
}

// A child whose parent lives in another shard is still gated, and released
// at its next re-check once the parent is delivered (docs/scaling.md).
func TestParentInAnotherShard(t *testing.T) {
	h := newHarness(t, options{shards: 4})
	child, parent := "acc-1", ""
	for i := 2; parent == ""; i++ {
		if a := fmt.Sprintf("acc-%d", i); layout.ShardOf(a, 4) != layout.ShardOf(child, 4) {
			parent = a
		}
	}
	h.upsert("c1", child, "sub", "s1", 1, `{}`, "parent_entity", "main", "parent_key", "m1")
	h.waitSteps("c1", "parked")
	h.upsert("p1", parent, "main", "m1", 1, `{}`)
	h.waitSteps("p1", "delivered")
	// The due time comes on the injected clock: the re-check finds the
	// parent in the other shard's ledger.
	h.advanceUntilTerminal([]string{"c1"}, 5*time.Second, 15*time.Second)
	h.waitSteps("c1", "parked", "released", "delivered")
	for _, e := range h.sim.Log(0, 0) {
		if e.Status == 409 {
			t.Fatalf("the partner saw the child before its parent: %+v", e)
		}
	}
}

// One shard on one Redis writes exactly the keys it wrote before shards
// existed.
func TestSingleShardKeepsTodaysData(t *testing.T) {
	h := newHarness(t, options{})
	h.upsert("c1", "acc", "sub", "s1", 1, `{}`, "parent_entity", "main", "parent_key", "m1")
	h.waitSteps("c1", "parked")
	h.upsert("p1", "acc", "main", "m1", 1, `{}`)
	h.xadd("id", "bad", "account", "acc")
	h.waitSteps("c1", "parked", "released", "delivered")
	h.waitSteps("bad", "invalid")
	prefix := strings.TrimSuffix(h.keys.Events, "events")
	keys, err := h.rdb.Keys(context.Background(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	var want []string
	for _, k := range []string{"attempts", "dead", "events", "ledger:main", "ledger:sub", "steps", "payloads"} {
		want = append(want, prefix+k)
	}
	slices.Sort(want)
	// payloads is emptied (and so deleted) once the child is released; the
	// shard's owner lease, the heartbeats of the processes and their names
	// are not data
	// (docs/scaling.md), and go when the process stops.
	got := slices.DeleteFunc(keys, func(k string) bool {
		return k == prefix+"payloads" || k == prefix+"owner" || k == prefix+"members" || strings.HasPrefix(k, prefix+"members:")
	})
	want = slices.DeleteFunc(want, func(k string) bool { return k == prefix+"payloads" })
	if !slices.Equal(got, want) {
		t.Fatalf("keys\n%v\nwant\n%v", got, want)
	}
}

// The behaviour tests again, on the test Redis Cluster through a Cluster
// client, with every script call checked for keys of one slot.
func TestOnCluster(t *testing.T) {
	testenv.RedisClusterAddrs(t)
	for name, test := range map[string]func(*testing.T){
		"Delivered": TestDelivered, "InvalidNeverStallsTheStream": TestInvalidNeverStallsTheStream,
		"LoopIsNeverSentBack": TestLoopIsNeverSentBack, "StaleAndDuplicate": TestStaleAndDuplicate,
		"ChildWaitsForParent": TestChildWaitsForParent, "ChildWaitsWhileParentRetries": TestChildWaitsWhileParentRetries,
		"ParentNeverSeen": TestParentNeverSeen, "ParentDeadKillsChild": TestParentDeadKillsChild,
		"RetryThenDelivered": TestRetryThenDelivered, "Exhausted": TestExhausted,
		"ReplayAndDrop": TestReplayAndDrop, "PerAccountOrderAndParallelAccounts": TestPerAccountOrderAndParallelAccounts,
		"CommitOnlyOnce": TestCommitOnlyOnce, "TwoProcessesKeepAccountsSerial": TestTwoProcessesKeepAccountsSerial,
		"PendingEntriesAreResumedAndClaimed": TestPendingEntriesAreResumedAndClaimed,
		"ShardsDeliverEveryAccount":          TestShardsDeliverEveryAccount, "ParentInAnotherShard": TestParentInAnotherShard,
	} {
		t.Run(name, func(t *testing.T) {
			clusterTests.Store(t, true)
			defer clusterTests.Delete(t)
			test(t)
		})
	}
}

// Dead letters of every shard are listed page by page (cursor SHARD/ID),
// and replayed into their own shard's stream.
func TestDeadLettersOverShards(t *testing.T) {
	h := newHarness(t, options{shards: 3})
	h.faults(partnersim.Faults{RejectPrefix: "bad"})
	var ids []string
	for i := range 9 {
		id := fmt.Sprintf("e%d", i)
		ids = append(ids, id)
		h.upsert(id, fmt.Sprintf("acc-%d", i), "main", fmt.Sprintf("bad-%d", i), 1, `{}`)
	}
	h.waitTerminal(ids, 15*time.Second)
	ops := inspect.DeadOps{RDB: h.rdb, Shards: h.shards, Instance: "op", AttemptLog: true, Clock: h.clock}
	ctx := context.Background()
	var got []string
	cursor, pages := "", 0
	for {
		page, next, err := ops.List(ctx, inspect.DeadFilter{Reason: "rejected"}, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, d := range page {
			if layout.ShardOf(d.Account, 3) != d.Shard {
				t.Errorf("%s of %s listed in shard %d", d.EventID, d.Account, d.Shard)
			}
			got = append(got, d.EventID)
		}
		if next == "" {
			break
		}
		if !strings.Contains(next, "/") || pages > 20 {
			t.Fatalf("cursor %q after %d pages", next, pages)
		}
		cursor = next
	}
	slices.Sort(got)
	if !slices.Equal(got, ids) {
		t.Fatalf("listed %v, want %v", got, ids)
	}
	if _, _, err := ops.List(ctx, inspect.DeadFilter{All: true}, "7/0-0", 2); err == nil {
		t.Fatal("a cursor of shard 7 of 3 was taken")
	}
	h.faults(partnersim.Faults{})
	replayed, err := ops.Replay(ctx, inspect.DeadFilter{All: true})
	if err != nil || len(replayed) != 9 {
		t.Fatalf("replayed %v: %v", replayed, err)
	}
	for _, id := range ids {
		h.waitSteps(id, "dead", "replayed", "delivered")
	}
	if st, _ := ops.Status(ctx); st.Dead != 0 || len(st.Shards) != 3 {
		t.Fatalf("status after replay: %+v", st)
	}
}
