package layout

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
)

// Entries streamsync writes itself (re-entries from the delayed and retry
// ZSETs, replays, dead letters) pass through Lua scripts, and a Lua call
// takes at most about 8,000 values. An entry may carry far more fields
// (docs/events.md: extra fields up to event.max_bytes), so a script never gets
// them one by one: at most maxFlatFields travel as fields, the contract's
// own first, and the rest are packed, byte for byte, into the one field
// MoreField. Reading an entry unfolds MoreField again (ExpandFields).
//
// Packed form: every name and value as "<byte length>:<bytes>", one after
// the other; binary-safe, so bytes that are not UTF-8 stay as they were
// written (a JSON round trip would turn them into U+FFFD).
const (
	// MoreField holds the fields of an entry past maxFlatFields, packed.
	MoreField = handlers.MetaPrefix + "more"
	// maxFlatFields is how many fields an entry written by a script keeps
	// as fields; with the dead-letter and meta fields and the row that go
	// into the same script call, that stays far below Lua's limit.
	maxFlatFields = 1000
)

// contractFields come first in a written entry, so that scripts (rows,
// ledger, state) and operators find them as fields whatever else it holds.
var contractFields = []string{
	event.FieldID, event.FieldAccount, event.FieldEntity, event.FieldKey, event.FieldOp, event.FieldVersion,
	event.FieldParentEntity, event.FieldParentKey, event.FieldOrigin, event.FieldTS, event.FieldTraceParent, event.FieldData,
}

// PackFields encodes name/value pairs in the packed form.
func PackFields(kv []string) string {
	var b strings.Builder
	n := 0
	for _, s := range kv {
		n += len(s) + 8
	}
	b.Grow(n)
	var num [20]byte
	for _, s := range kv {
		b.Write(strconv.AppendInt(num[:0], int64(len(s)), 10))
		b.WriteByte(':')
		b.WriteString(s)
	}
	return b.String()
}

// AppendPacked appends one value to b in the packed form (PackFields of a
// list is the AppendPacked of each of its values in turn).
func AppendPacked(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

// errPacked is returned for text that is not in the packed form.
var errPacked = errors.New("not packed fields")

// UnpackFields decodes the packed form into name/value pairs.
func UnpackFields(s string) ([]string, error) {
	var out []string
	for i := 0; i < len(s); {
		c := strings.IndexByte(s[i:], ':')
		if c <= 0 || c > 10 {
			return nil, fmt.Errorf("%w: no length at byte %d", errPacked, i)
		}
		n, err := strconv.Atoi(s[i : i+c])
		if err != nil || n < 0 || s[i] == '+' || s[i] == '-' {
			return nil, fmt.Errorf("%w: bad length at byte %d", errPacked, i)
		}
		start := i + c + 1
		if n > len(s)-start {
			return nil, fmt.Errorf("%w: value at byte %d runs past the end", errPacked, start)
		}
		out = append(out, s[start:start+n])
		i = start + n
	}
	if len(out)%2 != 0 {
		return nil, fmt.Errorf("%w: a name without a value", errPacked)
	}
	return out, nil
}

// FlatFields lists the fields for which keep is true as name/value pairs:
// the contract's fields first, then the rest by name; past maxFlatFields
// the rest goes packed into MoreField.
func FlatFields(fields map[string]string, keep func(name string) bool) []string {
	names := make([]string, 0, len(fields))
	for _, k := range contractFields {
		if _, ok := fields[k]; ok && keep(k) {
			names = append(names, k)
		}
	}
	rest := make([]string, 0, len(fields))
	for k := range fields {
		if keep(k) && !slices.Contains(contractFields, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	names = append(names, rest...)
	flat := names
	var more []string
	if len(names) > maxFlatFields {
		flat, more = names[:maxFlatFields], names[maxFlatFields:]
	}
	out := make([]string, 0, 2*len(flat)+2)
	for _, k := range flat {
		out = append(out, k, fields[k])
	}
	if len(more) > 0 {
		kv := make([]string, 0, 2*len(more))
		for _, k := range more {
			kv = append(kv, k, fields[k])
		}
		out = append(out, MoreField, PackFields(kv))
	}
	return out
}

// ExpandFields unfolds MoreField into fields (in place). A MoreField that is
// not in the packed form is left as it is and reported.
func ExpandFields(fields map[string]string) error {
	p, ok := fields[MoreField]
	if !ok {
		return nil
	}
	kv, err := UnpackFields(p)
	if err != nil {
		return fmt.Errorf("field %s: %w", MoreField, err)
	}
	delete(fields, MoreField)
	for i := 0; i < len(kv); i += 2 {
		if _, dup := fields[kv[i]]; !dup {
			fields[kv[i]] = kv[i+1]
		}
	}
	return nil
}
