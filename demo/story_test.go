package demo

import (
	"reflect"
	"testing"
)

func TestStory(t *testing.T) {
	c := StoryConfig{Seed: 9, Accounts: 20, Events: 3000}
	a, b := Story(c), Story(c)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave another story")
	}
	if reflect.DeepEqual(a, Story(StoryConfig{Seed: 10, Accounts: 20, Events: 3000})) {
		t.Fatal("another seed gave the same story")
	}
	kinds := map[string]int{}
	ids := map[string]bool{}
	seen := map[string]bool{} // records seen so far
	childFirst := 0
	lastVersion := map[string]string{}
	for _, e := range a {
		kinds[e.Kind]++
		if ids[e.Get("id")] {
			t.Fatalf("id %s twice", e.Get("id"))
		}
		ids[e.Get("id")] = true
		if e.Kind != "event" {
			continue
		}
		rec := e.Get("entity") + "/" + e.Get("key")
		if v := lastVersion[rec]; v != "" && len(v) == len(e.Get("version")) && v > e.Get("version") {
			t.Fatalf("%s: version %s after %s", rec, e.Get("version"), v)
		}
		lastVersion[rec] = e.Get("version")
		if p := e.Get("parent_key"); p != "" && !seen["main_registration/"+p] {
			childFirst++
		}
		seen[rec] = true
	}
	if kinds["event"] < 1500 || kinds["echo"] == 0 || kinds["malformed"] == 0 {
		t.Fatalf("kinds %v", kinds)
	}
	if childFirst == 0 {
		t.Fatal("no child comes before its parent")
	}
	want := Expected(a)
	if len(want) != len(lastVersion) {
		t.Fatalf("expected %d records, the story has %d", len(want), len(lastVersion))
	}
	for rec, w := range want {
		if v := lastVersion[rec]; v == "" || w.Version == 0 {
			t.Fatalf("%s: %+v", rec, w)
		}
	}
}

func TestEntryJSON(t *testing.T) {
	e := Entry{Fields: []string{"id", "e1", "version", "12", "data", `{"a":1}`, "ts", "5", "key", "k"}}
	if got := string(e.JSON()); got != `{"data":{"a":1},"id":"e1","key":"k","ts":5,"version":12}` {
		t.Fatal(got)
	}
	bad := Entry{Fields: []string{"id", "e2", "version", "yesterday", "data", "[not json"}}
	if got := string(bad.JSON()); got != `{"data":"[not json","id":"e2","version":"yesterday"}` {
		t.Fatal(got)
	}
}
