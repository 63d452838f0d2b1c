package testenv

import "testing"

func TestScriptSlotError(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []any
		bad  bool
	}{
		{"one slot", []any{"evalsha", "abc", 2, "{s1}:a", "{s1}:b", "x"}, false},
		{"two slots", []any{"evalsha", "abc", 2, "{s1}:a", "{s2}:b", "x"}, true},
		{"eval two slots", []any{"EVAL", "return 1", 3, "{s1}:a", "{s1}:b", "plain"}, true},
		{"one key", []any{"eval", "return 1", 1, "a"}, false},
		{"not a script", []any{"mget", "a", "b", "c"}, false},
		{"args are not keys", []any{"evalsha", "abc", 1, "{s1}:a", "{s2}:b"}, false},
	} {
		if got := ScriptSlotError(tc.args) != nil; got != tc.bad {
			t.Errorf("%s: error %v, want %v", tc.name, got, tc.bad)
		}
	}
}
