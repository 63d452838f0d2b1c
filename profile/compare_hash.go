package profile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Hash is the hash reconciliation compares of a record of entity
// (docs/partners.md, "Compared fields"), the same for our record and
// the partner's in our shape: SHA-256, lower-case hex, of a canonical form
// of data in which
//   - only compare.fields are kept (all of data when none are named; a
//     field absent and a field null are the same),
//   - numbers are compared as values: 1.10, 1.1 and 11e-1 are one number,
//     1e2 is 100, -0 is 0,
//   - object keys are in no order, at every depth,
//   - compare.case_insensitive fields are compared in lower case,
//   - compare.times fields that hold RFC 3339 times are compared as
//     instants (+01:00 and the same instant in Z are equal); a value that is
//     no such time is compared as it is.
//
// Data that is not a JSON object hashes as its bytes, equal only to itself.
func (p *Profile) Hash(entity string, data json.RawMessage) string {
	var cc *compiledCompare
	if c := p.entity(entity); c != nil {
		cc = c.compare
	}
	return hashData(cc, data)
}

func hashData(cc *compiledCompare, data []byte) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	m, isObj := v.(map[string]any)
	if err != nil || dec.More() || !isObj {
		sum := sha256.Sum256(append([]byte("raw:"), data...))
		return hex.EncodeToString(sum[:])
	}
	if cc != nil {
		if len(cc.fields) > 0 {
			kept := map[string]any{}
			for _, f := range cc.fields {
				if x, ok := m[f]; ok {
					kept[f] = x
				}
			}
			m = kept
		}
		for f := range cc.fold {
			if s, ok := m[f].(string); ok {
				m[f] = strings.ToLower(s)
			}
		}
		for f := range cc.times {
			if s, ok := m[f].(string); ok {
				if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
					m[f] = instant(t.UTC().Format(time.RFC3339Nano))
				}
			}
		}
	}
	for k, x := range m {
		if x == nil {
			delete(m, k) // absent and null are the same
		}
	}
	var b bytes.Buffer
	writeValue(&b, m)
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:])
}

// instant marks a time already in its canonical form, so that it never
// equals the same text in a field compared as text.
type instant string

func writeValue(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case json.Number:
		b.WriteString("n:")
		b.WriteString(canonicalNumber(string(x)))
	case string:
		s, _ := json.Marshal(x)
		b.Write(s)
	case instant:
		b.WriteString("t:")
		b.WriteString(string(x))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeValue(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			s, _ := json.Marshal(k)
			b.Write(s)
			b.WriteByte(':')
			writeValue(b, x[k])
		}
		b.WriteByte('}')
	}
}

// canonicalNumber is a JSON number's value as one text: its significant
// digits and a decimal exponent ("11e-1" for 1.10, 1.1 and 11e-1; "1e2"
// for 100 and 1e2; "0" for 0, -0 and 0.000). Done on the text, exactly,
// at no cost however large the exponent.
func canonicalNumber(written string) string {
	s := written
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, expText, _ := strings.Cut(strings.ToLower(s), "e")
	exp := 0
	if expText != "" {
		e, err := strconv.Atoi(expText)
		if err != nil {
			return written // an exponent beyond int: compare as written
		}
		exp = e
	}
	whole, frac, _ := strings.Cut(mant, ".")
	digits := whole + frac
	exp -= len(frac)
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return "0"
	}
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed)
	out := trimmed + "e" + strconv.Itoa(exp)
	if neg {
		out = "-" + out
	}
	return out
}
