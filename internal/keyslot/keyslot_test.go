package keyslot

import "testing"

// Values from the Redis Cluster specification and from CLUSTER KEYSLOT.
func TestOf(t *testing.T) {
	for _, tc := range []struct {
		key  string
		slot int
	}{
		{"foo", 12182},
		{"bar", 5061},
		{"123456789", 0x31C3 % Slots},
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"foo{}{bar}", Of("foo{}{bar}")}, // empty tag: the whole key
		{"foo{{bar}}zap", Of("{bar")},
		{"foo{bar}{zap}", Of("bar")},
	} {
		if got := Of(tc.key); got != tc.slot {
			t.Errorf("Of(%q) = %d, want %d", tc.key, got, tc.slot)
		}
	}
	if Of("foo{}{bar}") == Of("bar") && Tag("foo{}{bar}") != "foo{}{bar}" {
		t.Errorf("an empty tag must hash the whole key")
	}
}

func TestTag(t *testing.T) {
	for key, want := range map[string]string{
		"streamsync:events":     "streamsync:events",
		"streamsync:{3}:events": "3",
		"{ss}:events":           "ss",
		"a{b}c{d}":              "b",
		"a{}b":                  "a{}b",
		"a{b":                   "a{b",
	} {
		if got := Tag(key); got != want {
			t.Errorf("Tag(%q) = %q, want %q", key, got, want)
		}
		if HasTag(key) != (want != key) {
			t.Errorf("HasTag(%q) = %v", key, HasTag(key))
		}
	}
}
