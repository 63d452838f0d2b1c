package pipeline

import (
	"context"
	"errors"
	"github.com/streamsync/streamsync/inspect"
	"testing"
	"time"

	"github.com/streamsync/streamsync/partnersim"
)

func TestReplayAndDrop(t *testing.T) {
	h := newHarness(t, options{})
	h.faults(partnersim.Faults{RejectPrefix: "bad"})
	h.upsert("e1", "acc", "main", "bad-1", 7, `{"x":1}`)
	h.upsert("e2", "acc", "main", "bad-2", 7, `{"x":2}`)
	h.upsert("e3", "acc2", "main", "bad-3", 7, `{"x":3}`)
	h.waitTerminal([]string{"e1", "e2", "e3"}, 10*time.Second)
	ops := inspect.DeadOps{RDB: h.rdb, Keys: h.keys, Instance: "op", AttemptLog: true, Clock: h.clock}
	ctx := context.Background()

	if _, err := ops.Replay(ctx, inspect.DeadFilter{}); !errors.Is(err, inspect.ErrNoFilter) {
		t.Fatalf("replay without a filter: %v", err)
	}
	page, next, err := inspect.ListDead(ctx, h.rdb, h.keys, inspect.DeadFilter{Reason: "rejected"}, "", 2)
	if err != nil || len(page) != 2 || next == "" {
		t.Fatalf("first page: %d %q %v", len(page), next, err)
	}
	page2, next2, _ := inspect.ListDead(ctx, h.rdb, h.keys, inspect.DeadFilter{Reason: "rejected"}, next, 2)
	if len(page2) != 1 || next2 != "" || page2[0].EventID == page[0].EventID {
		t.Fatalf("second page: %+v %q", page2, next2)
	}
	if only, _, _ := inspect.ListDead(ctx, h.rdb, h.keys, inspect.DeadFilter{Account: "acc2"}, "", 10); len(only) != 1 || only[0].EventID != "e3" {
		t.Fatalf("by account: %+v", only)
	}

	h.faults(partnersim.Faults{}) // the partner accepts them now
	got, err := ops.Replay(ctx, inspect.DeadFilter{IDs: []string{"e1"}})
	if err != nil || len(got) != 1 || got[0] != "e1" {
		t.Fatalf("replay: %v %v", got, err)
	}
	h.waitSteps("e1", "dead", "replayed", "delivered")

	dropped, err := ops.Drop(ctx, inspect.DeadFilter{IDs: []string{"e2"}})
	if err != nil || len(dropped) != 1 {
		t.Fatalf("drop: %v %v", dropped, err)
	}
	left := h.dead()
	if len(left) != 1 || left[0].EventID != "e3" {
		t.Fatalf("left %+v", left)
	}
	if _, err := ops.Replay(ctx, inspect.DeadFilter{All: true}); err != nil {
		t.Fatal(err)
	}
	h.waitSteps("e3", "dead", "replayed", "delivered")
	if len(h.dead()) != 0 {
		t.Fatal("dead letters left after replaying all")
	}
}
