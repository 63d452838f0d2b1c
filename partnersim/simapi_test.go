package partnersim

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestSimStateLogAndReset(t *testing.T) {
	s := start(t, nil)
	s.put("main_registration", "m-1", rec("a", 1, `{"x":1}`), "e1")
	s.put("sub_registration", "s-1", recWithParent("b", 2, `{}`, "main_registration", "m-1"), "e2")
	s.del("main_registration", "m-1", "3")
	s.token = "bad"
	s.put("x", "refused", rec("a", 1, `{}`), "e4")

	st, b := s.do(http.MethodGet, "/_sim/state?account=b", "", "", nil)
	var state State
	if err := json.Unmarshal(b, &state); err != nil || st != http.StatusOK {
		t.Fatalf("%d %s", st, b)
	}
	if len(state.Records) != 1 || state.Records[0].Key != "s-1" || state.Records[0].Parent.Key != "m-1" {
		t.Fatalf("state of account b: %+v", state.Records)
	}
	all := s.srv.Snapshot("")
	if len(all.Records) != 2 || !all.Records[0].Deleted || all.Records[0].Version != 3 {
		t.Fatalf("all records: %+v (the deleted one is a tombstone with its version)", all.Records)
	}
	if all.Stats.ByStatus["401"] != 1 || all.Stats.ByStatus["201"] != 2 || all.Stats.ByStatus["204"] != 1 {
		t.Fatalf("by status %v", all.Stats.ByStatus)
	}

	st, b = s.do(http.MethodGet, "/_sim/log?since=1&limit=2", "", "", nil)
	var page struct {
		Entries []LogEntry `json:"entries"`
		Next    int64      `json:"next"`
	}
	if err := json.Unmarshal(b, &page); err != nil || st != http.StatusOK {
		t.Fatalf("%d %s", st, b)
	}
	if len(page.Entries) != 2 || page.Entries[0].Seq != 2 || page.Entries[0].IdempotencyKey != "e2" || page.Entries[0].Account != "b" ||
		page.Entries[1].Method != http.MethodDelete || page.Next != 3 {
		t.Fatalf("log page %+v", page)
	}
	if rest := s.srv.Log(3, 0); len(rest) != 1 || rest[0].Status != http.StatusUnauthorized || rest[0].Key != "refused" {
		t.Fatalf("refused write not logged: %+v", rest)
	}

	if st, _ := s.do(http.MethodPost, "/_sim/reset", "", "", nil); st != http.StatusOK {
		t.Fatal(st)
	}
	if snap := s.srv.Snapshot(""); len(snap.Records) != 0 || snap.Stats.Requests != 0 || len(s.srv.Log(0, 0)) != 0 {
		t.Fatalf("after reset: %+v", snap)
	}
}

func TestLogIsBounded(t *testing.T) {
	s := start(t, func(o *Options) { o.LogMax = 3 })
	for i := range 5 {
		s.put("x", "k", rec("a", int64(i+1), `{}`), "")
	}
	log := s.srv.Log(0, 0)
	if len(log) != 3 || log[0].Seq != 3 || log[2].Seq != 5 {
		t.Fatalf("log %+v: want the newest 3", log)
	}
}
