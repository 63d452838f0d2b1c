package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"
)

// Canonical returns data as canonical JSON (docs/reconcile.md): object keys sorted
// by their UTF-8 bytes, no insignificant whitespace, strings re-encoded with
// RFC 8785's minimal escaping (only '"', '\\' and control characters; the
// short forms \b \f \n \r \t, other controls as \u00xx), numbers exactly as
// written. It fails when data is not one JSON value.
func Canonical(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonical JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("canonical JSON: more than one value")
	}
	var b bytes.Buffer
	b.Grow(len(data))
	writeCanonical(&b, v)
	return b.Bytes(), nil
}

// ContentHash is the hash of a record's data that the ledger keeps and that
// reconciliation compares (docs/reconcile.md): SHA-256, lower-case hex, of
// Canonical(data). Data that is not JSON hashes as its raw bytes, so it still
// compares equal only to itself.
func ContentHash(data []byte) string {
	canon := data
	if !isCanonical(data) {
		var err error
		if canon, err = Canonical(data); err != nil {
			canon = data
		}
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:])
}

func writeCanonical(b *bytes.Buffer, v any) {
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if t {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case json.Number:
		b.WriteString(string(t))
	case string:
		writeString(b, t)
	case []any:
		b.WriteByte('[')
		for i, x := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, x)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys) // Go compares strings by their bytes: UTF-8 byte order
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k)
			b.WriteByte(':')
			writeCanonical(b, t[k])
		}
		b.WriteByte('}')
	}
}

const hexDigits = "0123456789abcdef"

func writeString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			if c < utf8.RuneSelf {
				i++
				continue
			}
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			continue
		}
		b.WriteString(s[start:i])
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

// isCanonical reports whether data, if it is one JSON value, already is its
// own canonical form: no whitespace, object keys in strictly rising byte
// order, strings with nothing to escape or unescape (no backslash, no
// control character, valid UTF-8), and nesting at most maxFastDepth deep.
// It may say true for text that is not JSON at all; ContentHash hashes such
// text as it is either way. Most producers' data (compact, keys sorted)
// takes this path and is hashed without being decoded.
func isCanonical(d []byte) bool {
	end, ok := canonValue(d, 0, 0)
	return ok && end == len(d)
}

const maxFastDepth = 32

func canonValue(d []byte, i, depth int) (int, bool) {
	if i >= len(d) || depth > maxFastDepth {
		return i, false
	}
	switch c := d[i]; {
	case c == '{':
		i++
		if i < len(d) && d[i] == '}' {
			return i + 1, true
		}
		var last []byte
		for first := true; ; first = false {
			if i >= len(d) || d[i] != '"' {
				return i, false
			}
			j, ok := canonString(d, i)
			if !ok {
				return j, false
			}
			key := d[i+1 : j-1]
			if !first && bytes.Compare(last, key) >= 0 {
				return j, false
			}
			last = key
			if j >= len(d) || d[j] != ':' {
				return j, false
			}
			if i, ok = canonValue(d, j+1, depth+1); !ok || i >= len(d) {
				return i, false
			}
			switch d[i] {
			case ',':
				i++
			case '}':
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '[':
		i++
		if i < len(d) && d[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = canonValue(d, i, depth+1); !ok || i >= len(d) {
				return i, false
			}
			switch d[i] {
			case ',':
				i++
			case ']':
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '"':
		return canonString(d, i)
	case c == 't':
		return literal(d, i, "true")
	case c == 'f':
		return literal(d, i, "false")
	case c == 'n':
		return literal(d, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		j := i + 1
		for j < len(d) && (d[j] >= '0' && d[j] <= '9' || d[j] == '.' || d[j] == 'e' || d[j] == 'E' || d[j] == '+' || d[j] == '-') {
			j++
		}
		return j, true // kept as written by Canonical too
	}
	return i, false
}

// canonString scans the string starting at d[i] (a quote) and reports the
// index after its closing quote, and whether it needs no (un)escaping.
func canonString(d []byte, i int) (int, bool) {
	start := i + 1
	for j := start; j < len(d); j++ {
		switch c := d[j]; {
		case c == '"':
			return j + 1, utf8.Valid(d[start:j])
		case c == '\\' || c < 0x20:
			return j, false
		}
	}
	return len(d), false
}

func literal(d []byte, i int, lit string) (int, bool) {
	if len(d)-i >= len(lit) && string(d[i:i+len(lit)]) == lit {
		return i + len(lit), true
	}
	return i, false
}
