package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Limits bounds what Parse accepts.
type Limits struct {
	// MaxBytes is the largest entry: the sum of all field names and values.
	// 0 means DefaultMaxBytes.
	MaxBytes int
}

func (l Limits) maxBytes() int {
	if l.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return l.MaxBytes
}

// MaxJSONBytes is the largest JSON object FromJSON reads, in bytes: MaxBytes
// plus an eighth of it, at least 16 KiB (docs/events.md). An entry's size
// counts its field names and values only; the JSON of the same event adds
// quotes, colons, commas, white space and escapes — about 80 bytes for the
// contract's twelve fields written compactly, up to some KiB when the short
// fields are written with \u escapes, more when data is pretty-printed
// (data is kept compact) or sent as a string of JSON. A larger object is
// refused unread: an entry over MaxBytes, or one padded with more white
// space, escapes or ignored fields than that.
func (l Limits) MaxJSONBytes() int {
	m := l.maxBytes()
	return m + max(m/8, 16<<10)
}

// TooLargeJSON is the problem FromJSON names for a JSON object of n bytes,
// more than MaxJSONBytes.
func (l Limits) TooLargeJSON(n int) string {
	return fmt.Sprintf("%d bytes of JSON, more than an entry of event.max_bytes (%d) may take with JSON's syntax (%d)",
		n, l.maxBytes(), l.MaxJSONBytes())
}

// FromStream parses a stream entry's fields as go-redis returns them
// (map[string]any with string values). It never panics; an entry that is
// not a valid event gives an *InvalidError listing every problem, together
// with whatever fields could be read.
func FromStream(values map[string]any, lim Limits) (Event, error) {
	var p problems
	size := 0
	str := make(map[string]string, len(values))
	for k, v := range values {
		size += len(k)
		switch s := v.(type) {
		case string:
			str[k] = s
			size += len(s)
		case []byte:
			str[k] = string(s)
			size += len(s)
		default:
			p.add(k, fmt.Sprintf("not a string (%T)", v))
		}
	}
	e := fromStrings(str, &p)
	if size > lim.maxBytes() {
		p.add("", fmt.Sprintf("entry is %d bytes, more than event.max_bytes (%d)", size, lim.maxBytes()))
	}
	return e, p.err()
}

// fromStrings reads and validates every field of docs/events.md.
func fromStrings(f map[string]string, p *problems) Event {
	e := Event{
		ID:           f[FieldID],
		Account:      f[FieldAccount],
		Entity:       f[FieldEntity],
		Key:          f[FieldKey],
		Op:           Op(f[FieldOp]),
		ParentEntity: f[FieldParentEntity],
		ParentKey:    f[FieldParentKey],
		Origin:       f[FieldOrigin],
		TraceParent:  f[FieldTraceParent],
	}
	if d, ok := f[FieldData]; ok {
		e.Data = json.RawMessage(d)
	}
	if v, ok := f[FieldVersion]; ok {
		e.Version = parseInt(FieldVersion, v, p)
	} else if e.Op != OpSync {
		p.add(FieldVersion, "required")
	}
	if v, ok := f[FieldTS]; ok {
		e.TS = parseInt(FieldTS, v, p)
	}
	validate(&e, p)
	return e
}

// parseInt reads a positive decimal int64 without sign or spaces.
func parseInt(field, s string, p *problems) int64 {
	if s == "" {
		p.add(field, "empty; want a whole number greater than 0")
		return 0
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			p.add(field, fmt.Sprintf("%q is not a whole number greater than 0", clip(s)))
			return 0
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		p.add(field, fmt.Sprintf("%q does not fit in an int64", clip(s)))
		return 0
	}
	if n == 0 {
		p.add(field, "must be greater than 0")
	}
	return n
}

// Validate checks an event built in code against docs/events.md.
func Validate(e Event) error {
	var p problems
	validate(&e, &p)
	return p.err()
}

func validate(e *Event, p *problems) {
	header(p, FieldID, e.ID, MaxIDBytes, true)
	text(p, FieldAccount, e.Account, maxAccountBytes, true)
	entity(p, FieldEntity, e.Entity, true)
	text(p, FieldKey, e.Key, MaxKeyBytes, true)
	dotSegment(p, FieldKey, e.Key)
	switch e.Op {
	case OpUpsert, OpDelete, OpSync:
	case "":
		p.add(FieldOp, "required (upsert, delete or sync)")
	default:
		p.add(FieldOp, fmt.Sprintf("%q is not upsert, delete or sync", clip(string(e.Op))))
	}
	switch {
	case e.ParentEntity == "" && e.ParentKey == "":
	case e.ParentEntity == "":
		p.add(FieldParentEntity, "required when parent_key is set (both or neither)")
	case e.ParentKey == "":
		p.add(FieldParentKey, "required when parent_entity is set (both or neither)")
	default:
		entity(p, FieldParentEntity, e.ParentEntity, true)
		text(p, FieldParentKey, e.ParentKey, MaxKeyBytes, true)
		dotSegment(p, FieldParentKey, e.ParentKey)
	}
	text(p, FieldOrigin, e.Origin, maxOriginBytes, false)
	header(p, FieldTraceParent, e.TraceParent, maxTraceParentSz, false)
	switch {
	case len(e.Data) == 0 && e.Op == OpUpsert:
		p.add(FieldData, "required for an upsert (a JSON object)")
	case len(e.Data) > 0 && !isJSONObject(e.Data):
		p.add(FieldData, "not a JSON object")
	case len(e.Data) > 0:
		// JSON is UTF-8 text; the ledger's content hash decodes it, and a
		// rewrite there would make two different records look unchanged.
		if err := checkJSONText(e.Data); err != nil {
			p.add(FieldData, err.Error())
		}
	}
}

// text checks a required or optional string that travels path-escaped or
// in a JSON body (key, account, origin): any valid UTF-8, tabs and other
// control characters included (docs/events.md), at most max bytes.
func text(p *problems, field, s string, max int, required bool) {
	switch {
	case s == "":
		if required {
			p.add(field, "required")
		}
	case len(s) > max:
		p.add(field, fmt.Sprintf("%d bytes, more than %d", len(s), max))
	case !utf8.ValidString(s):
		p.add(field, "not valid UTF-8")
	}
}

// IsDotSegment reports whether a key is "." or "..", which no event may
// carry (docs/field-values.md).
func IsDotSegment(key string) bool { return key == "." || key == ".." }

// dotSegment refuses the keys "." and "..": in a URL path they are
// dot-segments (RFC 3986 §3.3), which clients, proxies and servers remove
// when they clean a path — also after decoding "%2E" (RFC 3986 §6.2.2.2) — so no
// encoding makes them reach the record (docs/field-values.md).
func dotSegment(p *problems, field, s string) {
	if IsDotSegment(s) {
		p.add(field, fmt.Sprintf("%q is a URL dot-segment, which proxies and servers remove from paths; not a legal key", s))
	}
}

// header checks a string that travels as an HTTP header value (id as the
// Idempotency-Key, traceparent): text without control characters.
func header(p *problems, field, s string, max int, required bool) {
	n := len(*p)
	text(p, field, s, max, required)
	if len(*p) == n && hasControl(s) {
		p.add(field, "contains a control character")
	}
}

// entity checks [a-z0-9_-]{1,64}.
func entity(p *problems, field, s string, required bool) {
	if s == "" {
		if required {
			p.add(field, "required")
		}
		return
	}
	if len(s) > MaxEntityBytes {
		p.add(field, fmt.Sprintf("%d bytes, more than %d", len(s), MaxEntityBytes))
		return
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			p.add(field, fmt.Sprintf("%q may hold only a-z, 0-9, _ and -", clip(s)))
			return
		}
	}
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

func isJSONObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	return json.Valid(b)
}

// clip shortens a value quoted in a reason.
func clip(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:40] + "…"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
