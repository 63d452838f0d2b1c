package reconcile

import (
	"context"
	"slices"
	"testing"

	"github.com/streamsync/streamsync/source"
)

// theirsReads is a partner reader that says which entities it can read.
type theirsReads struct{ can map[string]bool }

func (t theirsReads) List(string, source.ListOptions) source.Iterator { return nil }
func (t theirsReads) Get(context.Context, string, string) (source.Record, bool, error) {
	return source.Record{}, false, nil
}
func (t theirsReads) Reads(entity string) bool { return t.can[entity] }

// Entities the partner's profile cannot read are left out of a run (with a
// note), not a failure of the whole run; a partner without the notion reads
// every entity.
func TestReadableEntities(t *testing.T) {
	r := &Reconciler{deps: Deps{Theirs: theirsReads{can: map[string]bool{"learner": true}}}}
	yes, no := r.readable([]string{"enrollment", "learner"})
	if !slices.Equal(yes, []string{"learner"}) || !slices.Equal(no, []string{"enrollment"}) {
		t.Fatalf("readable %v, not %v", yes, no)
	}
	r = &Reconciler{deps: Deps{Theirs: nil}}
	if yes, no := r.readable([]string{"a", "b"}); len(yes) != 2 || no != nil {
		t.Fatalf("without Reads: %v %v", yes, no)
	}
}
