package event

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// errNoObject is JSON that EachMember cannot read as one object.
var errNoObject = errors.New("not a JSON object")

// EachMember calls fn with the name and the raw value of each member of the
// JSON object obj, in order, until fn returns false. Values are sub-slices
// of obj; a name is too, unless it is written with escapes or is not UTF-8:
// then it is decoded as json.Unmarshal does (`"\u0069d"` is "id", a byte
// that is not UTF-8 becomes U+FFFD). So a member costs no allocation
// whatever the object holds — an object of a million members is read in
// constant memory, where json.Unmarshal into a map would hold them all.
//
// obj should be valid JSON (check it with json.Valid first when it may not
// be): EachMember follows only its structure, so on malformed or cut input
// it stops with an error, having called fn for the members before it. This
// makes it usable on a prefix of a long object too.
func EachMember(obj []byte, fn func(name, value []byte) bool) error {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return errNoObject
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return nil
	}
	for {
		if i >= len(obj) || obj[i] != '"' {
			return errNoObject
		}
		end, escaped := stringEnd(obj, i)
		if end < 0 {
			return errNoObject
		}
		name := obj[i+1 : end-1]
		if escaped || !utf8.Valid(name) {
			var s string
			if json.Unmarshal(obj[i:end], &s) != nil {
				return errNoObject
			}
			name = []byte(s)
		}
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return errNoObject
		}
		i = skipSpace(obj, i+1)
		vend := valueEnd(obj, i)
		if vend < 0 {
			return errNoObject
		}
		if !fn(name, obj[i:vend]) {
			return nil
		}
		i = skipSpace(obj, vend)
		switch {
		case i < len(obj) && obj[i] == ',':
			i = skipSpace(obj, i+1)
		case i < len(obj) && obj[i] == '}':
			return nil
		default:
			return errNoObject
		}
	}
}

// skipSpace is the index of the first byte at or after i that is not JSON
// white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd is the index just past the JSON string starting at b[i] (a
// quote), -1 when it does not end; escaped says it holds a backslash.
func stringEnd(b []byte, i int) (end int, escaped bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return -1, escaped
}

// valueEnd is the index just past the JSON value starting at b[i], -1 when
// it does not end within b.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := stringEnd(b, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := stringEnd(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	// A number, true, false or null: up to the next delimiter, which a
	// member's value always has after it.
	for j := i; j < len(b); j++ {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if j == i {
				return -1
			}
			return j
		}
	}
	return -1
}
