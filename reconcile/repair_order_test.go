package reconcile

import (
	"slices"
	"testing"
)

func TestOrderParentsFirst(t *testing.T) {
	for _, tt := range []struct {
		in      []string
		parents map[string][]string
		want    []string
	}{
		{[]string{"booking", "customer"}, map[string][]string{"booking": {"customer"}}, []string{"customer", "booking"}},
		{[]string{"c", "b", "a"}, map[string][]string{"c": {"b"}, "b": {"a"}}, []string{"a", "b", "c"}},
		{[]string{"x", "y"}, nil, []string{"x", "y"}},
		{[]string{"x", "y", "z"}, map[string][]string{"x": {"y"}, "y": {"x"}}, []string{"z", "x", "y"}},
		{[]string{"child", "other"}, map[string][]string{"child": {"not-in-run"}}, []string{"child", "other"}},
	} {
		if got := orderParentsFirst(tt.in, tt.parents); !slices.Equal(got, tt.want) {
			t.Errorf("%v with %v: %v, want %v", tt.in, tt.parents, got, tt.want)
		}
	}
}
