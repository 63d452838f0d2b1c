package loadtest

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/streamsync/streamsync/demo"
	"github.com/streamsync/streamsync/event"
)

// The peer benchmark's work: deterministic, every entry a valid docs/events.md
// upsert, versions growing with position within each record, and about
// three events per record.
func TestUpserts(t *testing.T) {
	c := UpsertsConfig{N: 3000, Accounts: 100, Seed: 5}
	a := Upserts(c)
	if !reflect.DeepEqual(a, Upserts(c)) {
		t.Fatal("the same config gave other entries")
	}
	if len(a) != c.N {
		t.Fatalf("%d entries, want %d", len(a), c.N)
	}
	ids, last, accounts := map[string]bool{}, map[string]int64{}, map[string]bool{}
	for _, e := range a {
		values := map[string]any{}
		for i := 0; i+1 < len(e.Fields); i += 2 {
			values[e.Fields[i]] = e.Fields[i+1]
		}
		if _, err := event.FromStream(values, event.Limits{}); err != nil {
			t.Fatalf("%v: %v", e.Fields, err)
		}
		if ids[e.Get("id")] {
			t.Fatalf("id %s twice", e.Get("id"))
		}
		ids[e.Get("id")] = true
		accounts[e.Get("account")] = true
		v, _ := strconv.ParseInt(e.Get("version"), 10, 64)
		k := e.Get("entity") + "/" + e.Get("key")
		if v <= last[k] {
			t.Fatalf("%s: version %d after %d", k, v, last[k])
		}
		last[k] = v
	}
	if len(accounts) < 90 || len(last) < c.N/4 || len(last) > c.N/2 {
		t.Fatalf("%d accounts, %d records for %d events", len(accounts), len(last), c.N)
	}
	if len(demo.Expected(a)) != len(last) {
		t.Fatalf("Expected has %d records, want %d", len(demo.Expected(a)), len(last))
	}
}
