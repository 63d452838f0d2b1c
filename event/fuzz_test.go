package event

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// entryFromBytes turns fuzz input into stream fields: NUL-separated
// name/value pairs.
func entryFromBytes(b []byte) map[string]any {
	parts := bytes.Split(b, []byte{0})
	m := make(map[string]any, len(parts)/2)
	for i := 0; i+1 < len(parts); i += 2 {
		m[string(parts[i])] = string(parts[i+1])
	}
	return m
}

func bytesFromEntry(m map[string]any) []byte {
	var b bytes.Buffer
	for k, v := range m {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(v.(string))
		b.WriteByte(0)
	}
	return b.Bytes()
}

func FuzzFromStream(f *testing.F) {
	f.Add(bytesFromEntry(validEntry()))
	f.Add(bytesFromEntry(map[string]any{"id": "e", "account": "a", "entity": "x", "key": "k", "op": "delete", "version": "1"}))
	f.Add(bytesFromEntry(map[string]any{"id": "e", "op": "upsert", "version": "-1", "data": "[]"}))
	f.Add(bytesFromEntry(map[string]any{"id": "e", "account": "a", "entity": "X", "key": "\xff", "op": "upsert", "version": "1", "data": `{"a":`}))
	f.Add([]byte("garbage"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := FromStream(entryFromBytes(b), Limits{MaxBytes: 4096})
		if err != nil {
			if !errors.Is(err, ErrInvalid) || err.Error() == "" {
				t.Fatalf("error %v is not a readable ErrInvalid", err)
			}
			return
		}
		// A valid event survives a round trip through its stream fields.
		m := map[string]any{}
		f := e.Fields()
		for i := 0; i < len(f); i += 2 {
			m[f[i].(string)] = f[i+1]
		}
		again, err := FromStream(m, Limits{MaxBytes: 4096})
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("round trip: %+v, %v; was %+v", again, err, e)
		}
	})
}

func FuzzFromJSON(f *testing.F) {
	f.Add([]byte(`{"id":"e1","account":"a","entity":"x","key":"k","op":"upsert","version":5,"data":{"a":1}}`))
	f.Add([]byte(`{"id":"e1","account":"a","entity":"x","key":"k","op":"upsert","version":"5","data":"{\"a\":1}"}`))
	f.Add([]byte(`{"version":1e400,"data":"x"}`))
	f.Add([]byte(`[{"id":1}]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		items, err := SplitJSON(b)
		if err != nil {
			return
		}
		for _, it := range items {
			e, err := FromJSON(it, Limits{MaxBytes: 4096})
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("error %v is not ErrInvalid", err)
				}
				continue
			}
			if err := Validate(e); err != nil {
				t.Fatalf("FromJSON accepted an event Validate rejects: %v", err)
			}
		}
	})
}

// Whatever the fast path of ContentHash takes as canonical already is: for
// JSON, Canonical gives the same bytes back (text that is not JSON is hashed
// as it is on both paths).
func FuzzCanonicalFastPath(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,false,null],"c":{"d":"é"}}`, `{"b":1,"a":2}`, `{"a":1,"a":2}`, `{"a":"\u00e9"}`,
		`{"a": 1}`, `[1,2,{"z":0,"y":1}]`, `"x"`, `-0.5e+3`, `01`, `{"a":"\xff"}`, `{}`, `[]`, `{"a":1}x`, ` {}`, `{"":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !isCanonical(b) {
			return
		}
		c, err := Canonical(b)
		if err == nil && !bytes.Equal(c, b) {
			t.Fatalf("%q taken as canonical; Canonical gives %q", b, c)
		}
	})
}
