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
		case isSection(line):
			section, last = sectionName(line), ""
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
				out[last] = strings.TrimSpace(stripExampleMark(comment))
			}
		}
	}
	return out
}

// exampleMark starts the comment of a line in streamsync.example.yaml whose
// value is an example, not the default: "# [example; default: empty] …".
const exampleMark = "[example"

func stripExampleMark(comment string) string {
	c := strings.TrimSpace(comment)
	if !strings.HasPrefix(c, exampleMark) {
		return comment
	}
	if _, rest, ok := strings.Cut(c, "]"); ok {
		return rest
	}
	return comment
}

// exampleKeys are the keys whose line in streamsync.example.yaml is marked
// as an example value (exampleMark); every other line gives the default.
func exampleKeys() []string {
	var keys []string
	section := ""
	for _, line := range strings.Split(exampleYAML, "\n") {
		trimmed := strings.TrimSpace(line)
		if isSection(line) {
			section = sectionName(line)
			continue
		}
		name, rest, ok := strings.Cut(trimmed, ":")
		if !ok || section == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if _, comment, ok := strings.Cut(rest, " # "); ok && strings.HasPrefix(strings.TrimSpace(comment), exampleMark) {
			keys = append(keys, section+"."+name)
		}
	}
	return keys
}

// isSection reports a section's line ("sink:"), a comment beside it allowed
// ("source:   # our side …").
func isSection(line string) bool {
	return line != "" && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "#") && strings.HasSuffix(sectionHead(line), ":")
}

func sectionHead(line string) string {
	head, _, _ := strings.Cut(line, " #")
	return strings.TrimSpace(head)
}

// sectionName is the section a section's line opens.
func sectionName(line string) string { return strings.TrimSuffix(sectionHead(line), ":") }
