package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/partnersim"
)

// simServer is an in-process partnersim of the built-in API.
func simServer(t *testing.T) (*partnersim.Server, string) {
	t.Helper()
	sim, err := partnersim.New(partnersim.Options{API: partnersim.APIV1})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	return sim, hs.URL
}

// records is what sim holds, by entity/key.
func records(sim *partnersim.Server) map[string]partnersim.RecordState {
	out := map[string]partnersim.RecordState{}
	for _, r := range sim.Snapshot("").Records {
		out[r.Entity+"/"+r.Key] = r
	}
	return out
}

// waitSteps waits until keys' step counts of delivered+dead+skipped reach n.
func waitSteps(t *testing.T, rdb *redis.Client, keys layout.Keys, n int, p *process) {
	t.Helper()
	ctx := context.Background()
	done := func() int {
		c, _ := rdb.HGetAll(ctx, keys.Steps).Result()
		total := 0
		for _, s := range []string{"delivered", "dead", "skipped_stale", "skipped_unchanged", "skipped_loop"} {
			var v int
			fmt.Sscan(c[s], &v)
			total += v
		}
		return total
	}
	for end := time.Now().Add(60 * time.Second); done() < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			c, _ := rdb.HGetAll(ctx, keys.Steps).Result()
			t.Fatalf("%s: %d of %d events ended: %v\n%s", keys.Steps, done(), n, c, tail(p.out.String(), 4000))
		}
	}
}

// TestSeveralPartners: the partner of sink.* and a second one of
// partners.*, each with its own consumer group and keys; the second's
// route takes one entity only; a second partner down for a while holds
// nothing of the first back and ends with everything delivered; the first
// keeps its keys from before the second was added (nothing re-sent).
func TestSeveralPartners(t *testing.T) {
	rdb, keys, env := streams(t, "several")
	ctx := context.Background()
	simA, urlA := simServer(t)
	simB, urlB := simServer(t)
	env = append(env, "STREAMSYNC_CLICKHOUSE__ADDR=", "STREAMSYNC_SINK__BASE_URL="+urlA,
		"STREAMSYNC_RETRY__INITIAL=20ms", "STREAMSYNC_RETRY__MAX=200ms")
	add := func(from, n int, entity string) {
		for i := from; i < from+n; i++ {
			e := ev{ID: fmt.Sprintf("%s-%d", entity, i), Account: fmt.Sprintf("acc-%d", i%7), Entity: entity, Key: fmt.Sprintf("k-%d", i),
				Op: "upsert", Version: int64(100 + i), Data: fmt.Sprintf(`{"n":%d}`, i)}
			if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Events, Values: e.values()}).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Before: one partner, sink.* only.
	add(0, 20, "main_registration")
	p := startProcess(t, env)
	t.Cleanup(p.kill)
	waitSteps(t, rdb, keys, 20, p)
	p.kill()
	beforeA := simA.Snapshot("").Stats.Requests

	// After: a second partner, down at first, routed main_registration only.
	if err := simB.SetFaults(partnersim.Faults{Outage: true}); err != nil {
		t.Fatal(err)
	}
	env = append(env, "STREAMSYNC_PARTNERS__B__BASE_URL="+urlB, "STREAMSYNC_PARTNERS__B__ROUTE__ENTITIES=main_registration")
	add(20, 30, "main_registration")
	add(50, 10, "sub_thing")
	p = startProcess(t, env)
	t.Cleanup(p.kill)
	waitSteps(t, rdb, keys, 60, p) // A: everything, while B is down

	recA := records(simA)
	if len(recA) != 60 {
		t.Errorf("partner A holds %d records, want 60", len(recA))
	}
	if got := simA.Snapshot("").Stats.Requests - beforeA; got > 45 {
		t.Errorf("partner A got %d requests after the second partner was added, want 40 (the new events only)", got)
	}
	bKeys := keys.ForPartner("b")
	if err := simB.SetFaults(partnersim.Faults{}); err != nil {
		t.Fatal(err)
	}
	// B: the main_registration events still in the stream (all 50), none dead.
	waitSteps(t, rdb, bKeys, 50, p)
	p.kill()
	recB := records(simB)
	if len(recB) != 50 {
		t.Errorf("partner B holds %d records, want the 50 main_registration ones", len(recB))
	}
	for k := range recB {
		if !strings.HasPrefix(k, "main_registration/") {
			t.Errorf("partner B got %s, which its route does not take", k)
		}
	}
	if n, _ := rdb.XLen(ctx, bKeys.Dead).Result(); n != 0 {
		t.Errorf("partner B: %d dead letters after its outage, want 0", n)
	}
	if n, _ := rdb.XLen(ctx, keys.Dead).Result(); n != 0 {
		t.Errorf("partner A: %d dead letters, want 0", n)
	}
	// Each keeps its own ledger: A's where it always was, B's under its prefix.
	if n, _ := rdb.HLen(ctx, keys.Ledger("main_registration")).Result(); n != 50 {
		t.Errorf("A's ledger holds %d main_registration records, want 50", n)
	}
	if n, _ := rdb.HLen(ctx, bKeys.Ledger("main_registration")).Result(); n != 50 {
		t.Errorf("B's ledger (%s) holds %d records, want 50", bKeys.Ledger("main_registration"), n)
	}
	if n, _ := rdb.HLen(ctx, bKeys.Ledger("sub_thing")).Result(); n != 0 {
		t.Errorf("B's ledger holds %d sub_thing records, which its route does not take", n)
	}
	groups, _ := rdb.XInfoGroups(ctx, keys.Events).Result()
	var names []string
	for _, g := range groups {
		names = append(names, g.Name)
	}
	if fmt.Sprint(names) != "[g g:b]" {
		t.Errorf("consumer groups %v, want [g g:b]", names)
	}
}
