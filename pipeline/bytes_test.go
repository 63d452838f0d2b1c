package pipeline

import (
	"testing"
)

// Keys that are not UTF-8 are invalid as written, each keeping its own
// bytes in its dead letter; they never reach the partner as one record.
func TestKeysThatAreNotUTF8StayApart(t *testing.T) {
	h := newHarness(t, options{})
	h.upsert("bad-ff", "acc", "main", "r-\xff", 1, `{"n":1}`)
	h.upsert("bad-fe", "acc", "main", "r-\xfe", 1, `{"n":2}`)
	h.waitSteps("bad-ff", "invalid")
	h.waitSteps("bad-fe", "invalid")
	keys := map[string]string{}
	for _, d := range h.dead() {
		keys[d.EventID] = d.Fields["key"]
	}
	if keys["bad-ff"] != "r-\xff" || keys["bad-fe"] != "r-\xfe" {
		t.Fatalf("dead letters hold keys %q", keys)
	}
	if n := len(h.sim.Log(0, 0)); n != 0 {
		t.Fatalf("the partner got %d requests", n)
	}
}

// Any valid UTF-8 is a legal key (docs/events.md): a tab, a slash, CJK.
func TestKeyWithATabIsDelivered(t *testing.T) {
	h := newHarness(t, options{})
	h.upsert("tab-1", "acc\tB", "main", "r\t1/键", 1, `{"n":1}`)
	h.waitSteps("tab-1", "delivered")
	rec := h.sim.Snapshot("").Records
	if len(rec) != 1 || rec[0].Key != "r\t1/键" || rec[0].Account != "acc\tB" {
		t.Fatalf("partner has %+v", rec)
	}
}
