package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// ErrNotJSON is returned by SplitJSON for a body that is neither a JSON
// object nor an array of them.
var ErrNotJSON = errors.New("body is not a JSON object or array of objects")

// SplitJSON splits an ingest body, one JSON object or an array of them, into
// its objects, unparsed.
func SplitJSON(body []byte) ([]json.RawMessage, error) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return nil, ErrNotJSON
	}
	switch b[0] {
	case '{':
		if !json.Valid(b) {
			return nil, ErrNotJSON
		}
		return []json.RawMessage{b}, nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(b, &items); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotJSON, err)
		}
		return items, nil
	}
	return nil, ErrNotJSON
}

// FromJSON parses one event as the ingest endpoint receives it: the stream
// field names, version and ts as JSON numbers (or digit strings), data as a
// JSON object (or a string holding one). Unknown fields are ignored, and
// cost nothing: only the contract's fields are kept while the object is
// read (EachMember). An object of more than Limits.MaxJSONBytes is refused
// before it is read at all. Like FromStream it never panics and lists every
// problem.
func FromJSON(obj json.RawMessage, lim Limits) (Event, error) {
	var p problems
	if len(obj) > lim.MaxJSONBytes() {
		p.add("", lim.TooLargeJSON(len(obj)))
		return Event{ID: idOf(obj)}, p.err()
	}
	raw := make(map[string]json.RawMessage, len(jsonFields))
	err := errNoObject
	if json.Valid(obj) {
		err = EachMember(obj, func(name, v []byte) bool {
			if f, ok := jsonFields[string(name)]; ok {
				raw[f] = v // the last of a repeated name, as json.Unmarshal
			}
			return true
		})
	}
	if err != nil {
		p.add("", "not a JSON object")
		return Event{}, p.err()
	}
	str := make(map[string]string, len(raw))
	for _, name := range []string{FieldID, FieldAccount, FieldEntity, FieldKey, FieldOp,
		FieldParentEntity, FieldParentKey, FieldOrigin, FieldTraceParent} {
		v, ok := raw[name]
		if !ok || isNull(v) {
			continue
		}
		s, plain := plainString(v)
		if !plain {
			if err := json.Unmarshal(v, &s); err != nil {
				p.add(name, "not a JSON string")
				continue
			}
			if err := checkJSONText(v); err != nil {
				p.add(name, err.Error()) // decoding would have rewritten it
				continue
			}
		}
		str[name] = s
	}
	for _, name := range []string{FieldVersion, FieldTS} {
		v, ok := raw[name]
		if !ok || isNull(v) {
			continue
		}
		s, err := jsonInteger(v)
		if err != nil {
			p.add(name, err.Error())
			continue
		}
		str[name] = s
	}
	if v, ok := raw[FieldData]; ok && !isNull(v) {
		d, err := jsonData(v)
		if err != nil {
			p.add(FieldData, err.Error())
		} else {
			str[FieldData] = d
		}
	}
	e := fromStrings(str, &p)
	// A field that failed its JSON type was reported above; drop the
	// "required" that fromStrings adds for it.
	p = dedupe(p)
	if size := entrySize(e); size > lim.maxBytes() {
		p.add("", fmt.Sprintf("entry is %d bytes, more than event.max_bytes (%d)", size, lim.maxBytes()))
	}
	return e, p.err()
}

// idOf is the id of a JSON object too large to be parsed, to name it in an
// answer: read member by member, and only when it is a plain string (see
// plainString), cut after MaxIDBytes+1 bytes — longer it is invalid anyway.
func idOf(obj []byte) string {
	var v []byte
	_ = EachMember(obj, func(name, value []byte) bool {
		if string(name) == FieldID {
			v = value // the last, as json.Unmarshal
		}
		return true
	})
	if len(v) > MaxIDBytes+3 {
		v = append(v[:MaxIDBytes+2:MaxIDBytes+2], '"')
	}
	s, _ := plainString(v)
	return s
}

// jsonFields are the members FromJSON reads, each name its own value.
var jsonFields = func() map[string]string {
	m := map[string]string{}
	for _, f := range []string{FieldID, FieldAccount, FieldEntity, FieldKey, FieldOp, FieldVersion,
		FieldParentEntity, FieldParentKey, FieldOrigin, FieldData, FieldTS, FieldTraceParent} {
		m[f] = f
	}
	return m
}()

// plainString is the text of a JSON string with nothing to decode — no
// escape, no control character, valid UTF-8 — which is what json.Unmarshal
// would make of it, without its cost; ok is false for anything else.
func plainString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	in := v[1 : len(v)-1]
	for _, c := range in {
		if c < 0x20 || c == '\\' || c == '"' {
			return "", false
		}
	}
	if !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}

// jsonInteger accepts a JSON integer or a string of digits, as digits.
func jsonInteger(v json.RawMessage) (string, error) {
	if v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", errors.New("not a JSON number")
		}
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		return "", errors.New("not a JSON number")
	}
	if _, err := strconv.ParseInt(n.String(), 10, 64); err != nil {
		return "", fmt.Errorf("%s is not a whole number that fits in an int64", clip(n.String()))
	}
	return n.String(), nil
}

// jsonData accepts a JSON object, or a string holding one, as compact JSON.
func jsonData(v json.RawMessage) (string, error) {
	if v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", errors.New("not a JSON object")
		}
		if err := checkJSONText(v); err != nil {
			return "", err
		}
		v = json.RawMessage(s)
	}
	if !isJSONObject(v) {
		return "", errors.New("not a JSON object")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return "", errors.New("not a JSON object")
	}
	return b.String(), nil
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// dedupe keeps the first problem of each field.
func dedupe(p problems) problems {
	seen := make(map[string]bool, len(p))
	out := p[:0]
	for _, x := range p {
		if x.Field != "" && seen[x.Field] {
			continue
		}
		seen[x.Field] = true
		out = append(out, x)
	}
	return out
}

// entrySize is what the event weighs as a stream entry.
func entrySize(e Event) int {
	n := 0
	for _, f := range e.Fields() {
		n += len(f.(string))
	}
	return n
}
