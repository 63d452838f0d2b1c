package event

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestCanonical(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"keys sorted by bytes", `{"b":1,"a":2,"B":3,"é":4,"z":5}`, `{"B":3,"a":2,"b":1,"z":5,"é":4}`},
		{"whitespace dropped", " { \"a\" : [ 1 , 2 ] ,\n\"b\":{ } } ", `{"a":[1,2],"b":{}}`},
		{"numbers as written", `{"a":1.50,"b":1e3,"c":-0,"d":12345678901234567890}`, `{"a":1.50,"b":1e3,"c":-0,"d":12345678901234567890}`},
		{"minimal escaping", `{"s":"<a&b>\u00e9\/\u2028\"\\\n\u0001"}`, "{\"s\":\"<a&b>é/\u2028\\\"\\\\\\n\\u0001\"}"},
		{"nested", `{"x":{"d":null,"c":[true,false,{"f":1,"e":2}]}}`, `{"x":{"c":[true,false,{"e":2,"f":1}],"d":null}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Canonical([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("Canonical(%s)\n got %s\nwant %s", tc.in, got, tc.want)
			}
		})
	}
	if _, err := Canonical([]byte(`{"a":1} {}`)); err == nil {
		t.Fatal("two values: want an error")
	}
}

func TestContentHash(t *testing.T) {
	a := ContentHash([]byte(`{"b":1,"a":"x"}`))
	if b := ContentHash([]byte(`{ "a":"x", "b":1 }`)); a != b {
		t.Fatalf("key order and spacing changed the hash: %s vs %s", a, b)
	}
	if c := ContentHash([]byte(`{"a":"x","b":1.0}`)); a == c {
		t.Fatal("1 and 1.0 are written differently and must hash differently")
	}
	sum := sha256.Sum256([]byte(`{"a":"x","b":1}`))
	if want := hex.EncodeToString(sum[:]); a != want {
		t.Fatalf("hash %s, want the full SHA-256 hex of the canonical JSON %s", a, want)
	}
}
