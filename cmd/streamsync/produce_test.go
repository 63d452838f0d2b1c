package main

import (
	"testing"

	"github.com/streamsync/streamsync/demo"
)

// However far an interrupted story got, every child appended has its parent
// appended too, so no parent_missing dead letter follows a Ctrl-C.
func TestInterruptedStoryOwesNoParent(t *testing.T) {
	story := demo.Story(demo.StoryConfig{Seed: 7, Accounts: 3, Events: 300})
	field := func(en demo.Entry, name string) string {
		for j := 0; j+1 < len(en.Fields); j += 2 {
			if en.Fields[j] == name {
				return en.Fields[j+1]
			}
		}
		return ""
	}
	orphansSomewhere := false
	for cut := 0; cut <= len(story); cut++ {
		appended := append(append([]demo.Entry{}, story[:cut]...), owedParents(story[:cut], story[cut:])...)
		have, without := map[string]bool{}, 0
		for _, en := range appended {
			if en.Kind == "event" {
				have[field(en, "entity")+"/"+field(en, "key")] = true
			}
		}
		for _, en := range appended {
			if pk := field(en, "parent_key"); pk != "" && !have[field(en, "parent_entity")+"/"+pk] {
				without++
			}
		}
		if without > 0 {
			t.Fatalf("cut after %d entries: %d children without their parent", cut, without)
		}
		// Without the owed parents some cut leaves children orphaned: the
		// story arrives out of order, which is what makes this test count.
		seen := map[string]bool{}
		for _, en := range story[:cut] {
			if en.Kind == "event" {
				seen[field(en, "entity")+"/"+field(en, "key")] = true
			}
		}
		for _, en := range story[:cut] {
			if pk := field(en, "parent_key"); pk != "" && !seen[field(en, "parent_entity")+"/"+pk] {
				orphansSomewhere = true
			}
		}
	}
	if !orphansSomewhere {
		t.Fatal("no cut of the story leaves a child before its parent; the test proves nothing")
	}
}
