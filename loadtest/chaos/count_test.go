package main

import (
	"slices"
	"testing"
	"time"
)

// The counting of a row: lost is acknowledged and never at the partner
// (a later version counts as delivered), redelivered is an event that came
// again after a 2xx, a version down is a 2xx below an earlier 2xx, and the
// resume time runs from the fault's end to the next 2xx.
func TestTally(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	acks := []Ack{{"a", 1, at(0)}, {"a", 2, at(5)}, {"b", 1, at(5)}, {"c", 1, at(10)}, {"c", 2, at(2300)}, {"d", 5, at(2200)}}
	log := []Write{
		{1, at(0), "a", 1, 201},
		{2, at(10), "b", 1, 503}, // refused: not delivered, and not a redelivery when it comes again
		{3, at(20), "b", 1, 201},
		{4, at(30), "a", 1, 200}, // again after a 2xx: redelivered (answered from the idempotency store)
		{5, at(40), "c", 2, 201}, // c1 never came, but c2 did: c1 not lost
		{6, at(2500), "a", 2, 200},
		{7, at(2600), "a", 1, 409}, // again, refused as stale: redelivered once more, same event
		{8, at(2700), "d", 4, 201}, // d4 was never acknowledged; d5 is lost
		{9, at(2800), "e", 3, 201},
		{10, at(2900), "e", 2, 200}, // a lower version answered 2xx: down
	}
	final := map[string]int64{"a": 2, "b": 1, "c": 2, "d": 4, "e": 2}
	r := Tally("f", 7, acks, log, final, at(2000))
	want := Row{Fault: "f", Sent: 7, Acked: 6, Delivered: 7, Lost: 1, Redelivered: 1, Down: 1, Resume: 500 * time.Millisecond, AckResume: 200 * time.Millisecond,
		Slowest: 2495 * time.Millisecond} // a2: acknowledged at 5 ms, at the partner at 2,500 ms
	if r != want {
		t.Fatalf("got  %+v\nwant %+v", r, want)
	}
	if m := r.Misses(); len(m) != 1 {
		t.Errorf("misses with wait_replicas 0: %q, want the version down only", m)
	}
	r.WaitReplicas = 1
	if m := r.Misses(); len(m) != 2 {
		t.Errorf("misses with wait_replicas 1: %q, want the loss too", m)
	}
	if r := Tally("f", 0, acks[:2], log[:5], final, at(2000)); r.Resume != -1 || r.AckResume != -1 ||
		!slices.Contains(r.Misses(), "no delivery after the fault") || !slices.Contains(r.Misses(), "no event acknowledged after the fault") {
		t.Errorf("nothing after the fault: resume %v and %v, misses %q", r.AckResume, r.Resume, r.Misses())
	}
	if m := (Row{Unlogged: 3, OutboxLeft: 2}).Misses(); !slices.Contains(m, "3 delivered events have no row in the attempt log") ||
		!slices.Contains(m, "2 outbox rows were never relayed") {
		t.Errorf("misses of the attempt log and the outbox: %q", m)
	}
	if got := (Row{Fault: "x", Sent: 12345, Resume: 1234 * time.Millisecond, AckResume: -1}).Markdown(); got != "| x | 0 | 12,345 | 0 | 0 | 0 | 0 | 0 | 0 | never | 1.23s | 0s |" {
		t.Errorf("markdown: %s", got)
	}
}
