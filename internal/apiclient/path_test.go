package apiclient

import "testing"

func TestPathSegment(t *testing.T) {
	tests := []struct{ in, want string }{
		{".", "%2E"},
		{"..", "%2E%2E"},
		{"...", "%2E%2E%2E"},
		{"a.b", "a.b"},
		{"..a", "..a"},
		{".a.", ".a."},
		{"k/2", "k%2F2"},
		{"%2E%2E", "%252E%252E"},
		{"a b?#", "a%20b%3F%23"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := PathSegment(tt.in); got != tt.want {
			t.Errorf("PathSegment(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
