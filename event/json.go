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
// JSON object (or a string holding one). Unknown fields are ignored. Like
// FromStream it never panics and lists every problem.
func FromJSON(obj json.RawMessage, lim Limits) (Event, error) {
	var p problems
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(obj, &raw); err != nil || raw == nil {
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
