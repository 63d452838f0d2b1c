package event

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestFromJSON(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		version int64
		ts      int64
		data    string
	}{
		{"numbers and object", `{"id":"e1","account":"a","entity":"x","key":"k","op":"upsert","version":5,"ts":1700000000000,"data":{"b":1, "a":[2]}}`, 5, 1700000000000, `{"b":1,"a":[2]}`},
		{"digit strings", `{"id":"e1","account":"a","entity":"x","key":"k","op":"upsert","version":"5","ts":"7","data":{"a":1}}`, 5, 7, `{"a":1}`},
		{"data as string", `{"id":"e1","account":"a","entity":"x","key":"k","op":"upsert","version":5,"data":"{\"a\": 1}"}`, 5, 0, `{"a":1}`},
		{"delete with nulls and extras", `{"id":"e1","account":"a","entity":"x","key":"k","op":"delete","version":9,"data":null,"parent_key":null,"extra":true}`, 9, 0, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := FromJSON([]byte(tt.body), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if e.Version != tt.version || e.TS != tt.ts || string(e.Data) != tt.data {
				t.Fatalf("got %+v", e)
			}
		})
	}
}

func TestFromJSONInvalid(t *testing.T) {
	base := `"id":"e1","account":"a","entity":"x","key":"k","op":"upsert"`
	tests := []struct {
		name, body, field, reason string
	}{
		{"not an object", `[1]`, "", "not a JSON object"},
		{"version float", `{` + base + `,"version":1.5,"data":{}}`, "version", "not a whole number"},
		{"version bool", `{` + base + `,"version":true,"data":{}}`, "version", "not a JSON number"},
		{"version huge", `{` + base + `,"version":1e30,"data":{}}`, "version", "fits in an int64"},
		{"id number", `{"id":7,"account":"a","entity":"x","key":"k","op":"upsert","version":1,"data":{}}`, "id", "not a JSON string"},
		{"data array", `{` + base + `,"version":1,"data":[1]}`, "data", "not a JSON object"},
		{"data string of array", `{` + base + `,"version":1,"data":"[1]"}`, "data", "not a JSON object"},
		{"data missing", `{` + base + `,"version":1}`, "data", "required for an upsert"},
		{"too large", `{` + base + `,"version":1,"data":{"x":"` + strings.Repeat("y", 2000) + `"}}`, "", "more than event.max_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromJSON([]byte(tt.body), Limits{MaxBytes: 1024})
			assertProblem(t, err, tt.field, tt.reason)
		})
	}
}

func TestSplitJSON(t *testing.T) {
	tests := []struct {
		body string
		n    int
		ok   bool
	}{
		{`{"a":1}`, 1, true},
		{` [ {"a":1}, {"b":2} ] `, 2, true},
		{`[]`, 0, true},
		{``, 0, false},
		{`"x"`, 0, false},
		{`{"a":`, 0, false},
		{`[{"a":1},`, 0, false},
	}
	for _, tt := range tests {
		items, err := SplitJSON([]byte(tt.body))
		if (err == nil) != tt.ok || len(items) != tt.n {
			t.Errorf("SplitJSON(%q) = %d items, %v", tt.body, len(items), err)
		}
	}
}

// plainString takes a string's text only when json.Unmarshal would give
// exactly it; everything else goes the slow way.
func TestPlainStringAgreesWithUnmarshal(t *testing.T) {
	for _, v := range []string{`"acc-1"`, `""`, `"tab	in"`, `"a\"b"`, `"a\\b"`, `"\u00e9"`, `"é"`, "\"\xff\"", `"a\nb"`,
		`"a"b"`, `a`, `"`, `12`, `"\ud800"`, "\"\x01\""} {
		s, ok := plainString([]byte(v))
		if !ok {
			continue
		}
		var want string
		if err := json.Unmarshal([]byte(v), &want); err != nil || want != s || checkJSONText([]byte(v)) != nil {
			t.Errorf("%q: plain %q, Unmarshal %q (%v)", v, s, want, err)
		}
	}
	for _, v := range []string{`"a\"b"`, "\"\xff\"", "\"tab\tin\"", `"\u00e9"`} {
		if _, ok := plainString([]byte(v)); ok {
			t.Errorf("%q taken as plain", v)
		}
	}
}
