package event

import (
	"testing"
)

// Keys, accounts and parent keys travel path-escaped or in a JSON body: any
// valid UTF-8 is legal (docs/events.md); only id is a header.
func TestAnyUTF8IsALegalKey(t *testing.T) {
	for _, k := range []string{"r\t1", "a b/c?d#e%f", "键-42", "nul\x00x", "line\nbreak"} {
		m := validEntry()
		m["key"], m["account"], m["parent_key"], m["origin"] = k, k, k, k
		e, err := FromStream(m, Limits{})
		if err != nil {
			t.Fatalf("key %q: %v", k, err)
		}
		if e.Key != k || e.Account != k || e.ParentKey != k {
			t.Fatalf("key %q came back as %q", k, e.Key)
		}
	}
	m := validEntry()
	m["id"] = "evt\t1"
	assertProblem(t, errOf(FromStream(m, Limits{})), "id", "contains a control character")
	m = validEntry()
	m["traceparent"] = "00-\n"
	assertProblem(t, errOf(FromStream(m, Limits{})), "traceparent", "contains a control character")
}

// Bytes are validated as written: data that is not UTF-8, or holds a lone
// surrogate escape (which decoding would turn into U+FFFD), is invalid.
func TestDataIsCheckedAsWritten(t *testing.T) {
	tests := []struct{ name, data, reason string }{
		{"not utf8", "{\"a\":\"\xff\"}", "not valid UTF-8"},
		{"lone low surrogate", `{"a":"\udcff"}`, "unpaired UTF-16 surrogate"},
		{"lone high surrogate", `{"a":"\ud83dx"}`, "unpaired UTF-16 surrogate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validEntry()
			m["data"] = tt.data
			assertProblem(t, errOf(FromStream(m, Limits{})), "data", tt.reason)
		})
	}
	m := validEntry()
	m["data"] = `{"smile":"\ud83d\ude00","slash":"\\udcff"}` // a pair, and an escaped backslash
	if _, err := FromStream(m, Limits{}); err != nil {
		t.Fatal(err)
	}
}

// Through the ingest's JSON, two keys that differ only in bytes that are
// not UTF-8 must not both become "r-\uFFFD".
func TestFromJSONKeepsBytes(t *testing.T) {
	base := `{"id":"e1","account":"a","entity":"x","op":"upsert","version":1,"data":{}, "key":`
	for _, tt := range []struct{ name, key, reason string }{
		{"raw byte ff", "\"r-\xff\"", "not valid UTF-8"},
		{"raw byte fe", "\"r-\xfe\"", "not valid UTF-8"},
		{"lone surrogate escape", `"r-\udcff"`, "unpaired UTF-16 surrogate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromJSON([]byte(base+tt.key+"}"), Limits{})
			assertProblem(t, err, "key", tt.reason)
		})
	}
	e, err := FromJSON([]byte(base+`"r\t\ud83d\ude00"}`), Limits{})
	if err != nil || e.Key != "r\t😀" {
		t.Fatalf("key %q, %v", e.Key, err)
	}
	_, err = FromJSON([]byte(`{"id":"e1","account":"a","entity":"x","key":"k","op":"upsert","version":1,"data":"{\"a\":\"\\udcff\"}"}`), Limits{})
	assertProblem(t, err, "data", "unpaired UTF-16 surrogate")
}

func errOf(_ Event, err error) error { return err }
