package profile

import (
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"github.com/streamsync/streamsync/event"
)

// Placeholders are the names a path, query value or header value may hold
// in braces; {data.FIELD} (a top-level field of data) is one too.
// {partner_id} is the partner's id of the record (only in update, delete
// and read.get of an entity whose partner assigns ids); {parent.partner_id}
// the partner's id of the record's parent (in any request: the event then
// waits until the parent has one). docs/partners.md, "Placeholders".
var Placeholders = []string{"id", "account", "entity", "key", "op", "version", "parent.entity", "parent.key", "partner_id", "parent.partner_id"}

var placeholderRe = regexp.MustCompile(`\{([^{}]*)\}`)

var dataFieldRe = regexp.MustCompile(`^data\.[A-Za-z0-9_-]+$`)

// checkPlaceholders returns an error naming the first placeholder of s
// that is not known.
func checkPlaceholders(s string) error {
	for _, m := range placeholderRe.FindAllStringSubmatch(s, -1) {
		name := m[1]
		if !known(name) {
			return fmt.Errorf("unknown placeholder {%s} (known: {%s}, {data.FIELD})", name, strings.Join(Placeholders, "}, {"))
		}
	}
	if strings.Count(s, "{") != strings.Count(s, "}") {
		return fmt.Errorf("unbalanced braces in %q", s)
	}
	return nil
}

func known(name string) bool {
	for _, p := range Placeholders {
		if p == name {
			return true
		}
	}
	return dataFieldRe.MatchString(name)
}

// hasPlaceholder reports whether s holds {name}.
func hasPlaceholder(s, name string) bool {
	return strings.Contains(s, "{"+name+"}")
}

// fill replaces every placeholder of s with its value from e and ids (the
// partner's ids of the record and its parent), each passed through esc
// (path-escaping in a path, none elsewhere). A {data.FIELD} that is not a
// string, number or boolean in e's data is an error; so is {partner_id} or
// {parent.partner_id} with no id.
func fill(s string, e event.Event, data map[string]any, ids IDs, esc func(string) string) (string, error) {
	var err error
	out := expand(s, func(name string) string {
		v, ok := value(name, e, data, ids)
		if !ok && err == nil {
			err = fmt.Errorf("{%s}: the event has no such value", name)
		}
		return esc(v)
	})
	return out, err
}

// expand replaces each placeholder of s — what placeholderRe matches: "{",
// no brace, "}" — with f of its name, as placeholderRe.ReplaceAllStringFunc
// would, without a regular expression or an allocation for a string with
// none: it runs for every request sent.
func expand(s string, f func(name string) string) string {
	i := strings.IndexByte(s, '{')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i >= 0 {
		j := strings.IndexAny(s[i+1:], "{}")
		if j < 0 {
			break
		}
		j += i + 1
		if s[j] == '{' { // a "{" with no "}" before the next "{": literal
			b.WriteString(s[:j])
			s = s[j:]
			i = 0
			continue
		}
		b.WriteString(s[:i])
		b.WriteString(f(s[i+1 : j]))
		s = s[j+1:]
		i = strings.IndexByte(s, '{')
	}
	b.WriteString(s)
	return b.String()
}

func value(name string, e event.Event, data map[string]any, ids IDs) (string, bool) {
	switch name {
	case "id":
		return e.ID, true
	case "account":
		return e.Account, true
	case "entity":
		return e.Entity, true
	case "key":
		return e.Key, true
	case "op":
		return string(e.Op), true
	case "version":
		return strconv.FormatInt(e.Version, 10), true
	case "parent.entity":
		return e.ParentEntity, e.ParentEntity != ""
	case "parent.key":
		return e.ParentKey, e.ParentKey != ""
	case "partner_id":
		return ids.Self, ids.Self != ""
	case "parent.partner_id":
		return ids.Parent, ids.Parent != ""
	}
	field, ok := strings.CutPrefix(name, "data.")
	if !ok {
		return "", false
	}
	return scalarText(data[field])
}

// scalarText is a JSON scalar (string, number, boolean) as text; numbers
// as their decimal text.
func scalarText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case *big.Int:
		return v.String(), true
	}
	return "", false
}
