package demo

import (
	"encoding/json"
	"strconv"
	"time"
)

// Entry is one XADD: its fields as name/value pairs, in order.
type Entry struct {
	Fields []string
	// Kind says what the story meant it to be: "event", "echo" or "malformed".
	Kind string
}

// Get returns a field's value.
func (e Entry) Get(name string) string {
	for i := 0; i+1 < len(e.Fields); i += 2 {
		if e.Fields[i] == name {
			return e.Fields[i+1]
		}
	}
	return ""
}

// Values is the entry as XADD values.
func (e Entry) Values() []any {
	v := make([]any, len(e.Fields))
	for i, f := range e.Fields {
		v[i] = f
	}
	return v
}

// JSON is the entry as the ingest endpoint takes it: version and ts as
// numbers, data as an object when it is one.
func (e Entry) JSON() []byte {
	m := make(map[string]any, len(e.Fields)/2)
	for i := 0; i+1 < len(e.Fields); i += 2 {
		k, v := e.Fields[i], e.Fields[i+1]
		switch {
		case (k == "version" || k == "ts") && isDigits(v):
			n, _ := strconv.ParseInt(v, 10, 64)
			m[k] = n
		case k == "data" && json.Valid([]byte(v)) && len(v) > 0 && v[0] == '{':
			m[k] = json.RawMessage(v)
		default:
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return b
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// WithTS returns the entry with ts set to at (unix ms), for end-to-end
// latency; malformed entries are sent as they are.
func WithTS(e Entry, at time.Time) Entry {
	if e.Kind == "malformed" {
		return e
	}
	f := make([]string, 0, len(e.Fields)+2)
	for i := 0; i+1 < len(e.Fields); i += 2 {
		if e.Fields[i] != "ts" {
			f = append(f, e.Fields[i], e.Fields[i+1])
		}
	}
	return Entry{Kind: e.Kind, Fields: append(f, "ts", strconv.FormatInt(at.UnixMilli(), 10))}
}
