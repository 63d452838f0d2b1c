package event

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
)

// members reads obj with EachMember into a map, the last of a repeated name
// kept, as json.Unmarshal does.
func members(obj []byte) (map[string]string, error) {
	m := map[string]string{}
	err := EachMember(obj, func(name, v []byte) bool {
		m[string(name)] = string(v)
		return true
	})
	return m, err
}

// On valid JSON, EachMember reads what json.Unmarshal into a map reads:
// names decoded, values as written.
func TestEachMemberAgreesWithUnmarshal(t *testing.T) {
	for _, obj := range []string{
		`{}`, ` { } `, `{"a":1}`, `{"a" : "x" , "b":[1,{"c":"]}"}],"d":{"e":"\"}"},"f":null,"g":true,"h":-1.5e3}`,
		`{"\u0069d":"x","i\"d":2,"":3}`, `{"a":1,"a":2}`, "{\n\t\"a\"\r:\n[ ]\n}", `{"s":"a\\","t":"\\\""}`,
		`{"ss_\u00e9":"é","x":"\ud83d\ude00"}`,
	} {
		t.Run(obj, func(t *testing.T) {
			got, err := members([]byte(obj))
			if err != nil {
				t.Fatal(err)
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal([]byte(obj), &raw); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{}
			for k, v := range raw {
				want[k] = string(v)
			}
			if !maps.Equal(got, want) {
				t.Fatalf("EachMember %q, json.Unmarshal %q", got, want)
			}
		})
	}
}

// Not an object, or cut: an error, after the members that were whole.
func TestEachMemberStopsAtTheCut(t *testing.T) {
	for _, obj := range []string{``, `[]`, `"x"`, `null`, `{`, `{"a"`, `{"a":`, `{"a":1`, `{"a":"x`, `{"a":[1,2`, `{"a":1,`, `{"a":1 "b":2}`} {
		if _, err := members([]byte(obj)); err == nil {
			t.Errorf("%q read without an error", obj)
		}
	}
	got, err := members([]byte(`{"id":"e-1","account":"a","data":{"x":"` + strings.Repeat("y", 100)))
	if err == nil || !maps.Equal(got, map[string]string{"id": `"e-1"`, "account": `"a"`}) {
		t.Fatalf("a cut object: %q, %v", got, err)
	}
}

// fn returning false stops the reading.
func TestEachMemberStops(t *testing.T) {
	n := 0
	err := EachMember([]byte(`{"a":1,"b":2,"c":3}`), func(_, _ []byte) bool { n++; return n < 2 })
	if err != nil || n != 2 {
		t.Fatalf("%d members read, %v", n, err)
	}
}

// wideEvent is a valid event with n extra fields "f0":0, …
func wideEvent(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"id":"x","account":"a","entity":"e","key":"k","op":"upsert","version":1,"data":{}`)
	for i := range n {
		fmt.Fprintf(&b, `,"f%d":0`, i)
	}
	b.WriteString("}")
	return []byte(b.String())
}

// An event's extra fields cost FromJSON nothing: the allocations of an
// event with 100,000 extra fields are those of the same event with none
// (give or take a few: with -race, sync.Pool drops what encoding/json's
// scanners put back).
func TestFromJSONExtraFieldsCostNothing(t *testing.T) {
	lim := Limits{MaxBytes: 4 << 20}
	allocs := func(obj []byte) float64 {
		return testing.AllocsPerRun(5, func() {
			if _, err := FromJSON(obj, lim); err != nil {
				t.Fatal(err)
			}
		})
	}
	none, wide := allocs(wideEvent(0)), allocs(wideEvent(100_000))
	if wide > none+10 {
		t.Fatalf("FromJSON allocates %.0f times for an event with 100,000 extra fields, %.0f without", wide, none)
	}
}

// An object larger than an entry of event.max_bytes may be in JSON is
// refused before it is read, its size named; up to that it is read.
func TestFromJSONRefusesAnObjectOverMaxJSONBytes(t *testing.T) {
	for _, tt := range []struct {
		max, want int
	}{{1 << 20, 1<<20 + 128<<10}, {4096, 4096 + 16<<10}, {0, DefaultMaxBytes + DefaultMaxBytes/8}} {
		if got := (Limits{MaxBytes: tt.max}).MaxJSONBytes(); got != tt.want {
			t.Errorf("MaxJSONBytes of %d: %d, want %d", tt.max, got, tt.want)
		}
	}
	lim := Limits{MaxBytes: 4096}
	fits := wideEvent(0)
	fits = append(fits[:len(fits)-1], `,"pad":"`+strings.Repeat("p", lim.MaxJSONBytes()-len(fits)-9)+`"}`...)
	if len(fits) != lim.MaxJSONBytes() {
		t.Fatalf("test object of %d bytes", len(fits))
	}
	if _, err := FromJSON(fits, lim); err != nil {
		t.Fatalf("%d bytes with an ignored field: %v", len(fits), err)
	}
	over := append(fits[:len(fits)-1:len(fits)-1], ' ', '}')
	e, err := FromJSON(over, lim)
	assertProblem(t, err, "", fmt.Sprintf("%d bytes of JSON, more than an entry of event.max_bytes (4096) may take with JSON's syntax (%d)", len(over), lim.MaxJSONBytes()))
	if e.ID != "x" {
		t.Fatalf("the refused object's id %q, want x", e.ID)
	}
	// The id names it in an answer, cut after an id's most bytes.
	long := strings.Repeat("i", 50_000)
	if e, _ := FromJSON([]byte(`{"id":"`+long+`"}`), lim); e.ID != long[:MaxIDBytes+1] {
		t.Fatalf("a long id named as %d bytes", len(e.ID))
	}
}

// On any valid JSON object EachMember agrees with json.Unmarshal; on
// anything else it does not panic.
func FuzzEachMember(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"\u0069d":"x","b":[{"c":"]"}]}`, `{"a":"\\"}`, `{"a":1,"a":2}`, `[1]`, `{"a":`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := members(b)
		var raw map[string]json.RawMessage
		if json.Unmarshal(b, &raw) != nil || raw == nil {
			return
		}
		want := map[string]string{}
		for k, v := range raw {
			want[k] = string(v)
		}
		if err != nil || !maps.Equal(got, want) {
			t.Fatalf("%q: EachMember %q (%v), json.Unmarshal %q", b, got, err, want)
		}
	})
}
