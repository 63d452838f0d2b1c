package loadtest

import "testing"

func TestAccount(t *testing.T) {
	sent := []Sent{{ID: "a", Accepted: true}, {ID: "b", Accepted: true}, {ID: "c", Accepted: true}, {ID: "d", Reason: "400 bad"}, {ID: "e", Accepted: true}}
	v := Account(sent, map[string][]string{
		"a": {"parked", "released", "delivered"}, "b": {"skipped_loop"}, "c": {"retry_scheduled", "dead"}, "e": {"parked"},
	})
	if v.Delivered != 1 || v.Skipped != 1 || v.Dead != 1 || v.Refused != 1 || len(v.Missing) != 1 || v.Missing[0] != "e" || v.OK() {
		t.Fatalf("%+v", v)
	}
}

// Refusals of one kind count together, whatever event ids they name.
func TestRefusalLeavesOutIDs(t *testing.T) {
	a := refusal(`400 400 Bad Request {"errors":[{"index":0,"id":"evt-1","reason":"version: required"}]}`)
	b := refusal(`400 400 Bad Request {"errors":[{"index":0,"id":"evt-2","reason":"version: required"}]}`)
	if a != b || a != "400 400 Bad Request: version: required" {
		t.Fatalf("refusals %q and %q", a, b)
	}
	if got := refusal("503 Service Unavailable"); got != "503 Service Unavailable" {
		t.Fatalf("a refusal without the error JSON reads %q", got)
	}
}
