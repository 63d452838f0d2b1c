package pipeline

import (
	"context"
	"testing"
	"time"
)

// A child whose parent never comes is dead-lettered after max_wait, and
// nothing of its wait stays in Redis: the parent's waiting set goes with
// it. Otherwise every child naming a parent that never existed would leave
// a set behind for good (docs/security.md, "Bounded").
func TestNoWaitingSetLeftForAParentNeverSeen(t *testing.T) {
	h := newHarness(t, options{})
	h.upsert("c1", "acc", "sub", "s1", 1, `{}`, "parent_entity", "main", "parent_key", "nobody")
	h.waitSteps("c1", "parked")
	waiting := h.keys.Waiting("main", "nobody")
	if n, _ := h.rdb.SCard(context.Background(), waiting).Result(); n != 1 {
		t.Fatalf("the parked child is not in its parent's waiting set (%d members): the test proves nothing", n)
	}
	for i := range 6 { // rechecks every 10s; max_wait is a minute
		h.clock.Add(10 * time.Second)
		h.waitStepCount("c1", 1+2*(i+1))
	}
	h.waitTerminal([]string{"c1"}, 10*time.Second)
	if d := h.dead(); len(d) != 1 || d[0].Reason != "parent_missing" {
		t.Fatalf("dead %+v", d)
	}
	if n, _ := h.rdb.Exists(context.Background(), waiting).Result(); n != 0 {
		members, _ := h.rdb.SMembers(context.Background(), waiting).Result()
		t.Fatalf("the dead child is left in its parent's waiting set %s: %v", waiting, members)
	}
}
