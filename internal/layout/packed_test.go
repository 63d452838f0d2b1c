package layout

import (
	"reflect"
	"strings"
	"testing"
)

func TestPackFieldsRoundTrip(t *testing.T) {
	kv := []string{"id", "e1", "key", "r-\xff", "", "", "data", `{"a":"1:2"}`, "x", strings.Repeat("y", 1000)}
	got, err := UnpackFields(PackFields(kv))
	if err != nil || !reflect.DeepEqual(got, kv) {
		t.Fatalf("round trip: %q %v", got, err)
	}
}

func TestUnpackFieldsRejects(t *testing.T) {
	for _, s := range []string{"5:abc", "x:abc", "-1:a", "+1:a1:b", "2:id", "2:id2", ":a", "99999999999:a"} {
		if _, err := UnpackFields(s); err == nil {
			t.Errorf("UnpackFields(%q) accepted", s)
		}
	}
}

// An entry past maxFlatFields keeps the contract's fields as fields and
// the rest packed; unfolding gives back every field.
func TestFlatFieldsPacksTheRest(t *testing.T) {
	fields := map[string]string{"id": "e", "key": "k\xff", "data": "{}", "_ss_attempts": "3"}
	for i := range 2 * maxFlatFields {
		fields[strings.Repeat("a", 1+i%7)+string(rune('0'+i%10))+strings.Repeat("z", i/70)] = "v"
	}
	kv := FlatFields(fields, func(k string) bool { return k != "_ss_attempts" })
	if kv[0] != "id" || kv[2] != "key" || kv[len(kv)-2] != MoreField || len(kv) != 2*maxFlatFields+2 {
		t.Fatalf("flat list starts %q, ends %q, %d values", kv[:4], kv[len(kv)-2], len(kv))
	}
	back := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		back[kv[i]] = kv[i+1]
	}
	if err := ExpandFields(back); err != nil {
		t.Fatal(err)
	}
	delete(fields, "_ss_attempts")
	if !reflect.DeepEqual(back, fields) {
		t.Fatalf("unfolded %d fields, want %d", len(back), len(fields))
	}
}

// AppendPacked writes the same bytes as PackFields, value by value, and
// neither allocates for the lengths.
func TestAppendPackedIsPackFields(t *testing.T) {
	kv := []string{"id", "e1", "key", "r-\xff", "", "", "data", `{"a":"1:2"}`, "x", strings.Repeat("y", 1000)}
	var b []byte
	for _, s := range kv {
		b = AppendPacked(b, s)
	}
	if string(b) != PackFields(kv) {
		t.Fatalf("AppendPacked %q, PackFields %q", b, PackFields(kv))
	}
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { _ = AppendPacked(buf[:0], kv[9]) }); n != 0 {
		t.Fatalf("AppendPacked allocated %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = PackFields(kv) }); n != 1 {
		t.Fatalf("PackFields allocated %v times, want 1 (its result)", n)
	}
}
