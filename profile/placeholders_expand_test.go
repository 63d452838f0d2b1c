package profile

import (
	"strings"
	"testing"
)

// expand must replace exactly what placeholderRe.ReplaceAllStringFunc
// replaced, braces left as they were included.
func TestExpandMatchesTheRegexp(t *testing.T) {
	upper := func(name string) string { return "<" + strings.ToUpper(name) + ">" }
	for _, s := range []string{
		"", "/v1/items", "/v1/{entity}/{key}", "{key}", "{}", "{{key}}", "{a{b}c}", "a}b{c", "{a}{b}{c}",
		"/x/{data.id}?q={version}&r={", "{{", "}}", "{a", "a}", "{a}}", "{{a}", "é{ünï}ç", "{a b}{c-d}/{e.f}",
	} {
		want := placeholderRe.ReplaceAllStringFunc(s, func(m string) string { return upper(m[1 : len(m)-1]) })
		if got := expand(s, upper); got != want {
			t.Errorf("expand(%q) = %q, the regexp gives %q", s, got, want)
		}
	}
}

func FuzzExpandMatchesTheRegexp(f *testing.F) {
	for _, s := range []string{"/v1/{entity}/{key}", "{{a}", "a}{b{c}d}"} {
		f.Add(s)
	}
	upper := func(name string) string { return "<" + strings.ToUpper(name) + ">" }
	f.Fuzz(func(t *testing.T, s string) {
		want := placeholderRe.ReplaceAllStringFunc(s, func(m string) string { return upper(m[1 : len(m)-1]) })
		if got := expand(s, upper); got != want {
			t.Errorf("expand(%q) = %q, the regexp gives %q", s, got, want)
		}
	})
}
