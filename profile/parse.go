package profile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a setting of a profile that is wrong: which profile, the
// setting's path in it ("entities.contact.upsert.body"), its line in the
// file (0 when not known) and what is wrong.
type Error struct {
	Profile string
	Path    string
	Line    int
	Reason  string
}

func (e *Error) Error() string {
	switch {
	case e.Path != "" && e.Line > 0:
		return fmt.Sprintf("profile %s: %s (line %d): %s", e.Profile, e.Path, e.Line, e.Reason)
	case e.Path != "":
		return fmt.Sprintf("profile %s: %s: %s", e.Profile, e.Path, e.Reason)
	case e.Line > 0:
		return fmt.Sprintf("profile %s: line %d: %s", e.Profile, e.Line, e.Reason)
	}
	return fmt.Sprintf("profile %s: %s", e.Profile, e.Reason)
}

// maxProfileBytes bounds a profile file: configuration, not data.
const maxProfileBytes = 1 << 20

// Load reads, parses and checks the profile in the YAML file path.
func Load(path string) (*Profile, error) { return LoadWith(path, Options{}) }

// Options change a profile as it is loaded.
type Options struct {
	// BaseURL, when set, replaces the profile's base_url (sink.base_url
	// wins over the profile's, so one profile serves a test server and
	// production alike).
	BaseURL string
}

// LoadWith is Load with opt applied before the profile is checked.
func LoadWith(path string, opt Options) (*Profile, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", path, err)
	}
	if fi.Size() > maxProfileBytes {
		return nil, fmt.Errorf("profile %s: larger than %d bytes", path, maxProfileBytes)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", path, err)
	}
	return ParseWith(b, path, opt)
}

// Parse parses and checks a profile written in YAML; source names it in
// errors until its name is known. Every problem found is returned, joined,
// each an *Error.
func Parse(b []byte, source string) (*Profile, error) { return ParseWith(b, source, Options{}) }

// ParseWith is Parse with opt applied before the profile is checked.
func ParseWith(b []byte, source string, opt Options) (*Profile, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, &Error{Profile: source, Reason: err.Error()}
	}
	var p Profile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true) // a misspelt setting is an error, not ignored
	if err := dec.Decode(&p); err != nil {
		return nil, decodeError(profileName(&root, source), err, &root)
	}
	if p.Name == "" {
		return nil, &Error{Profile: source, Path: "name", Line: 1, Reason: "required"}
	}
	if opt.BaseURL != "" {
		p.BaseURL = opt.BaseURL
	}
	errs := p.check(func(path ...string) int { return lineOf(&root, path) })
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &p, nil
}

// lineOf is the line of the value at path in a YAML document; 0 when path
// is not there (a default filled in), then the nearest line above it.
func lineOf(root *yaml.Node, path []string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, part := range path {
		for _, key := range splitIndex(part) {
			if idx, err := strconv.Atoi(key); err == nil && n.Kind == yaml.SequenceNode {
				if idx >= len(n.Content) {
					return line
				}
				n = n.Content[idx]
				line = n.Line
				continue
			}
			var ok bool
			if n, line, ok = child(n, key, line); !ok {
				return line
			}
		}
	}
	return line
}

// splitIndex splits "answers[0]" into "answers" and "0".
func splitIndex(part string) []string {
	name, idx, ok := strings.Cut(part, "[")
	if !ok {
		return []string{part}
	}
	return []string{name, strings.TrimSuffix(idx, "]")}
}

// child is the value of key in mapping n, and its key's line.
func child(n *yaml.Node, key string, line int) (*yaml.Node, int, bool) {
	if n.Kind != yaml.MappingNode {
		return n, line, false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1], n.Content[i].Line, true
		}
	}
	return n, line, false
}

// fieldNotFoundRe and typeRe read yaml.v3's decode errors: "line 7: field
// boddy not found in type profile.Request", "line 9: cannot unmarshal !!str
// `x` into int".
var (
	fieldNotFoundRe = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+$`)
	lineRe          = regexp.MustCompile(`^line (\d+): (.*)$`)
)

// decodeError turns a YAML decode error into one *Error a problem, each
// with its line, in the words of docs/partners.md rather than Go's types.
func decodeError(source string, err error, root *yaml.Node) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return &Error{Profile: source, Reason: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var errs []error
	for _, msg := range te.Errors {
		e := &Error{Profile: source, Reason: msg}
		if m := fieldNotFoundRe.FindStringSubmatch(msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Path = pathAt(root, e.Line, true)
			e.Reason = fmt.Sprintf("unknown setting %q (misspelt, or in the wrong section? see docs/partners.md)", m[2])
		} else if m := lineRe.FindStringSubmatch(msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Path = pathAt(root, e.Line, false)
			e.Reason = strings.NewReplacer("!!str", "text", "!!int", "a number", "!!map", "a mapping", "!!seq", "a list", "!!bool", "true/false").Replace(m[2])
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// profileName is the document's name, else source.
func profileName(root *yaml.Node, source string) string {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if v, _, ok := child(n, "name", 0); ok && v.Kind == yaml.ScalarNode && v.Value != "" {
		return v.Value
	}
	return source
}

// pathAt is the setting's path ("defaults.create.idempotency_headr") of the
// key on line in root; "" when none is there. withKey false gives the path
// of a value on the line (a mistyped value names its own setting).
func pathAt(root *yaml.Node, line int, withKey bool) string {
	var walk func(n *yaml.Node, path []string) (string, bool)
	walk = func(n *yaml.Node, path []string) (string, bool) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				if p, ok := walk(c, path); ok {
					return p, true
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				at := append(slices.Clone(path), k.Value)
				if k.Line == line && (withKey || v.Kind == yaml.ScalarNode && v.Line == line) {
					return strings.Join(at, "."), true
				}
				if p, ok := walk(v, at); ok {
					return p, true
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				at := slices.Clone(path)
				if len(at) > 0 {
					at[len(at)-1] = fmt.Sprintf("%s[%d]", at[len(at)-1], i)
				}
				if p, ok := walk(c, at); ok {
					return p, true
				}
			}
		}
		return "", false
	}
	p, _ := walk(root, nil)
	return p
}
