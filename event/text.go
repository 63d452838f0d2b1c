package event

import (
	"errors"
	"unicode/utf8"
)

// errNotUTF8 and errSurrogate say why JSON text cannot be taken as written.
var (
	errNotUTF8   = errors.New("not valid UTF-8")
	errSurrogate = errors.New("holds an unpaired UTF-16 surrogate escape (\\ud800-\\udfff)")
)

// checkJSONText reports whether JSON text (a whole value, or one string
// literal with its quotes) can be decoded without rewriting it: it must be
// valid UTF-8, and every \u escape of a surrogate must be half of a pair.
// Go's decoder turns both kinds of fault into U+FFFD, so two different
// values would become one (docs/events.md: field values are never rewritten).
func checkJSONText(b []byte) error {
	if !utf8.Valid(b) {
		return errNotUTF8
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 >= len(b) || b[i+1] != 'u' {
			i++ // an escape of one character
			continue
		}
		r, ok := hex4(b, i+2)
		if !ok {
			i++
			continue
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return errSurrogate
		case r >= 0xD800 && r <= 0xDBFF:
			lo, ok := rune(0), false
			if i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				lo, ok = hex4(b, i+8)
			}
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return errSurrogate
			}
			i += 11
		default:
			i += 5
		}
	}
	return nil
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
