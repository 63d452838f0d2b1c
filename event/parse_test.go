package event

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func validEntry() map[string]any {
	return map[string]any{
		"id": "evt-81", "account": "acc-7", "entity": "sub_registration", "key": "r-42",
		"op": "upsert", "version": "1732350000123", "parent_entity": "main_registration", "parent_key": "m-9",
		"origin": "crm", "data": `{"name":"Li Lei","seat":"A3"}`, "ts": "1732350000000",
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}
}

func TestFromStreamValid(t *testing.T) {
	e, err := FromStream(validEntry(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := Event{ID: "evt-81", Account: "acc-7", Entity: "sub_registration", Key: "r-42", Op: OpUpsert,
		Version: 1732350000123, ParentEntity: "main_registration", ParentKey: "m-9", Origin: "crm",
		Data: []byte(`{"name":"Li Lei","seat":"A3"}`), TS: 1732350000000,
		TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("got %+v\nwant %+v", e, want)
	}
	if !e.HasParent() {
		t.Fatal("HasParent = false")
	}
}

func TestFromStreamDeleteWithoutData(t *testing.T) {
	m := map[string]any{"id": "e", "account": "a", "entity": "x", "key": "k/1 ?#%", "op": "delete", "version": "3"}
	e, err := FromStream(m, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if e.Op != OpDelete || e.Data != nil || e.HasParent() || e.Key != "k/1 ?#%" {
		t.Fatalf("got %+v", e)
	}
}

func TestFromStreamInvalid(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m map[string]any)
		field  string
		reason string
	}{
		{"missing id", func(m map[string]any) { delete(m, "id") }, "id", "required"},
		{"id too long", func(m map[string]any) { m["id"] = strings.Repeat("x", 129) }, "id", "129 bytes, more than 128"},
		{"id with newline", func(m map[string]any) { m["id"] = "a\nb" }, "id", "contains a control character"},
		{"missing account", func(m map[string]any) { delete(m, "account") }, "account", "required"},
		{"missing entity", func(m map[string]any) { delete(m, "entity") }, "entity", "required"},
		{"entity upper case", func(m map[string]any) { m["entity"] = "Sub" }, "entity", `"Sub" may hold only a-z, 0-9, _ and -`},
		{"entity too long", func(m map[string]any) { m["entity"] = strings.Repeat("a", 65) }, "entity", "65 bytes, more than 64"},
		{"missing key", func(m map[string]any) { delete(m, "key") }, "key", "required"},
		{"key too long", func(m map[string]any) { m["key"] = strings.Repeat("k", 257) }, "key", "257 bytes, more than 256"},
		{"key not utf8", func(m map[string]any) { m["key"] = "\xff\xfe" }, "key", "not valid UTF-8"},
		{"key dot-segment", func(m map[string]any) { m["key"] = ".." }, "key", "dot-segment"},
		{"key one dot", func(m map[string]any) { m["key"] = "." }, "key", "dot-segment"},
		{"parent key dot-segment", func(m map[string]any) { m["parent_entity"] = "p"; m["parent_key"] = ".." }, "parent_key", "dot-segment"},
		{"missing op", func(m map[string]any) { delete(m, "op") }, "op", "required (upsert, delete or sync)"},
		{"unknown op", func(m map[string]any) { m["op"] = "merge" }, "op", `"merge" is not upsert, delete or sync`},
		{"missing version", func(m map[string]any) { delete(m, "version") }, "version", "required"},
		{"version text", func(m map[string]any) { m["version"] = "v2" }, "version", `"v2" is not a whole number greater than 0`},
		{"version negative", func(m map[string]any) { m["version"] = "-3" }, "version", `"-3" is not a whole number greater than 0`},
		{"version zero", func(m map[string]any) { m["version"] = "0" }, "version", "must be greater than 0"},
		{"version overflow", func(m map[string]any) { m["version"] = "99999999999999999999" }, "version", "does not fit in an int64"},
		{"version empty", func(m map[string]any) { m["version"] = "" }, "version", "empty"},
		{"only parent_entity", func(m map[string]any) { delete(m, "parent_key") }, "parent_key", "required when parent_entity is set"},
		{"only parent_key", func(m map[string]any) { delete(m, "parent_entity") }, "parent_entity", "required when parent_key is set"},
		{"bad parent entity", func(m map[string]any) { m["parent_entity"] = "A B" }, "parent_entity", "may hold only"},
		{"upsert without data", func(m map[string]any) { delete(m, "data") }, "data", "required for an upsert"},
		{"data array", func(m map[string]any) { m["data"] = `[1,2]` }, "data", "not a JSON object"},
		{"data broken", func(m map[string]any) { m["data"] = `{"a":` }, "data", "not a JSON object"},
		{"ts text", func(m map[string]any) { m["ts"] = "yesterday" }, "ts", "not a whole number"},
		{"value not a string", func(m map[string]any) { m["origin"] = 12 }, "origin", "not a string (int)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validEntry()
			tt.mutate(m)
			_, err := FromStream(m, Limits{})
			assertProblem(t, err, tt.field, tt.reason)
		})
	}
}

func TestFromStreamTooLarge(t *testing.T) {
	m := validEntry()
	m["data"] = `{"blob":"` + strings.Repeat("x", 2000) + `"}`
	_, err := FromStream(m, Limits{MaxBytes: 1024})
	assertProblem(t, err, "", "more than event.max_bytes (1024)")
	if _, err := FromStream(m, Limits{MaxBytes: 4096}); err != nil {
		t.Fatalf("under the limit: %v", err)
	}
}

func TestFromStreamListsEveryProblem(t *testing.T) {
	e, err := FromStream(map[string]any{"id": "e1", "op": "nope", "version": "x"}, Limits{})
	var ie *InvalidError
	if !errors.As(err, &ie) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	if len(ie.Problems) != 5 { // account, entity, key, op, version
		t.Fatalf("problems = %v", ie.Problems)
	}
	if e.ID != "e1" {
		t.Fatalf("the readable fields are kept: %+v", e)
	}
}

func TestFieldsRoundTrip(t *testing.T) {
	e, err := FromStream(validEntry(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	f := e.Fields()
	m := make(map[string]any, len(f)/2)
	for i := 0; i < len(f); i += 2 {
		m[f[i].(string)] = f[i+1]
	}
	if !reflect.DeepEqual(m, validEntry()) {
		t.Fatalf("Fields() = %v", m)
	}
}

func assertProblem(tb testing.TB, err error, field, reason string) {
	tb.Helper()
	var ie *InvalidError
	if !errors.As(err, &ie) {
		tb.Fatalf("err = %v, want an *InvalidError", err)
	}
	for _, p := range ie.Problems {
		if p.Field == field && strings.Contains(p.Reason, reason) {
			return
		}
	}
	tb.Fatalf("problems %v lack %s: %s", ie.Problems, field, reason)
}

// A sync event (docs/backfill.md) names a record without version or data; its
// stream fields round-trip without a version.
func TestFromStreamSyncWithoutVersion(t *testing.T) {
	m := map[string]any{"id": "s1", "account": "a", "entity": "x", "key": "k", "op": "sync"}
	e, err := FromStream(m, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if e.Op != OpSync || e.Version != 0 || e.Data != nil {
		t.Fatalf("got %+v", e)
	}
	f := e.Fields()
	back := make(map[string]any, len(f)/2)
	for i := 0; i < len(f); i += 2 {
		back[f[i].(string)] = f[i+1]
	}
	if !reflect.DeepEqual(back, m) {
		t.Fatalf("Fields() = %v, want %v", back, m)
	}
	if _, err := FromJSON([]byte(`{"id":"s2","account":"a","entity":"x","key":"k","op":"sync"}`), Limits{}); err != nil {
		t.Fatalf("FromJSON sync: %v", err)
	}
	delete(m, "op")
	if _, err := FromStream(m, Limits{}); err == nil {
		t.Fatal("an event without op and version is valid")
	}
}

func TestIdemKey(t *testing.T) {
	e := Event{ID: "e1"}
	if e.IdemKey() != "e1" {
		t.Fatalf("IdemKey = %q", e.IdemKey())
	}
	e.IdempotencyKey = "e1:7"
	if e.IdemKey() != "e1:7" {
		t.Fatalf("IdemKey = %q", e.IdemKey())
	}
}
