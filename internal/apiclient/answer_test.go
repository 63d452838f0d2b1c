package apiclient

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestJSONString(t *testing.T) {
	pad := strings.Repeat("x", 6000)
	tests := []struct {
		name  string
		body  string
		over  bool
		want  string
		found bool
	}{
		{"plain", `{"error":"stale_version","current_version":3}`, false, "stale_version", true},
		{"after a long field", `{"detail":"` + pad + `","error":"stale_version"}`, false, "stale_version", true},
		{"nested values skipped", `{"a":{"error":"no"},"b":[1,{"error":"no"}],"error":"parent_missing"}`, false, "parent_missing", true},
		{"case-insensitive like json.Unmarshal", `{"Error":"stale_version"}`, false, "stale_version", true},
		{"last one wins", `{"error":"a","error":"b"}`, false, "b", true},
		{"null leaves it unset", `{"error":null}`, false, "", false},
		{"absent", `{"detail":"x"}`, false, "", false},
		{"not a string", `{"error":{"code":"stale_version"}}`, false, "", false},
		{"a number", `{"error":409}`, false, "", false},
		{"not an object", `["error","stale_version"]`, false, "", false},
		{"not JSON", `<html>stale_version</html>`, false, "", false},
		{"empty", ``, false, "", false},
		{"whole body cut by the sender", `{"error":"stale_version","detail":"x`, false, "", false},
		{"trailing data", `{"error":"stale_version"} x`, false, "", false},
		{"trailing space", `{"error":"stale_version"}  ` + "\n", false, "stale_version", true},
		{"start of a longer body: field read whole", `{"error":"stale_version","detail":"` + pad[:100], true, "stale_version", true},
		{"start of a longer body: field read whole at the cut", `{"error":"stale_version"`, true, "stale_version", true},
		{"start of a longer body: cut through the field", `{"detail":"x","error":"stale_ver`, true, "", false},
		{"start of a longer body: field not reached", `{"detail":"` + pad[:100], true, "", false},
		{"start of a longer body: invalid before the cut", `{"error":"stale_version",]`, true, "", false},
		{"start of a longer body: a whole object", `{"error":"stale_version"}` + "   ", true, "stale_version", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := JSONString(Body{Bytes: []byte(tt.body), Over: tt.over}, "error")
			if got != tt.want || found != tt.found {
				t.Fatalf("JSONString(%.60q, over %v) = %q, %v; want %q, %v", tt.body, tt.over, got, found, tt.want, tt.found)
			}
		})
	}
}

func TestReadBody(t *testing.T) {
	tests := []struct {
		name    string
		r       io.Reader
		limit   int64
		want    string
		over    bool
		cutting bool
	}{
		{"shorter", strings.NewReader("abc"), 5, "abc", false, false},
		{"exactly the limit", strings.NewReader("abcde"), 5, "abcde", false, false},
		{"longer", strings.NewReader("abcdefgh"), 5, "abcde", true, false},
		{"cut short", io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(io.ErrUnexpectedEOF)), 5, "ab", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ReadBody(tt.r, tt.limit)
			if string(b.Bytes) != tt.want || b.Over != tt.over || errors.Is(err, ErrAnswerCut) != tt.cutting {
				t.Fatalf("ReadBody = %q, over %v, err %v", b.Bytes, b.Over, err)
			}
		})
	}
}
