package config

import (
	_ "embed"
	"strings"
)

//go:embed streamsync.example.yaml
var exampleYAML string

// Describe returns what a key is for, as the comment beside it in
// streamsync.example.yaml says (continuation comment lines included); ""
// for a key the file does not comment. It is the --help text of the key's
// flag.
func Describe(key string) string {
	return descriptions()[key]
}

func descriptions() map[string]string {
	out := map[string]string{}
	section, last := "", ""
	for _, line := range strings.Split(exampleYAML, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || (strings.HasPrefix(line, "#")):
			last = ""
		case !strings.HasPrefix(line, " ") && strings.HasSuffix(sectionOf(trimmed), ":"):
			section, last = strings.TrimSuffix(sectionOf(trimmed), ":"), ""
		case strings.HasPrefix(trimmed, "#"):
			if last != "" { // a comment continuing the key above
				out[last] += " " + strings.TrimSpace(strings.TrimPrefix(trimmed, "#"))
			}
		default:
			name, rest, ok := strings.Cut(trimmed, ":")
			if !ok || section == "" {
				continue
			}
			last = section + "." + name
			if _, comment, ok := strings.Cut(rest, " # "); ok {
				out[last] = strings.TrimSpace(comment)
			}
		}
	}
	return out
}

// sectionOf is a line without its trailing comment ("source:   # …" is the
// section "source:").
func sectionOf(trimmed string) string {
	code, _, _ := strings.Cut(trimmed, " #")
	return strings.TrimSpace(code)
}
