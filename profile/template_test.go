package profile

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/itchyny/gojq"
	"github.com/streamsync/streamsync/event"
)

// A body program of the template's shape renders, without jq, exactly the
// bytes the jq program gives, for events with and without a parent, data,
// partner ids, and strings that JSON escapes; programs of other shapes are
// left to jq.
func TestTemplateMatchesJQ(t *testing.T) {
	programs := []string{
		`{account, version, data} + (if .parent then {parent: {entity: .parent.entity, key: .parent.key}} else {} end)`,
		`{external_id: .key, owner: .account, fields: .data} + (if .parent.partner_id then {parent_id: .parent.partner_id} else {} end)`,
		`{fields: .data, source: "streamsync", "quoted key": .id, flag: true, nothing: null, no: false}`,
		`{id, entity, op, key, partner_id, parent, data, version}`,
		`{a: {b: {c: .key}}, z: .account, m: .data}`,
		`{x: .key} + (if .data then {y: .data} else {} end)`,
	}
	others := []string{
		`.data`, `{a: .data.name}`, `{a: .key | ascii_downcase}`, `{a: 1}`, `{(.key): 1}`, `{a: "\(.key)"}`,
		`{a: .key} + {b: .id}`, `{a: .key} + (if .parent then {b: 1} elif .data then {} else {} end)`, `{a: .ts}`,
		`{a: .key} + (if .parent then {b: .key} else {c: 1} end)`, `{a: .parent.entity.x}`,
	}
	events := []event.Event{
		{ID: "e-1", Account: "acme", Entity: "contact", Key: "c/1", Op: event.OpUpsert, Version: 7, Data: json.RawMessage(`{"name":"Ann <&> \u00e9","n":1.10,"big":12345678901234567890.5, "nested": {"z":1,"a":[1,2]}}`)},
		{ID: "e-2", Account: "a\"b", Entity: "deal", Key: "d 2", Op: event.OpUpsert, Version: 1732350000123, Data: json.RawMessage(`{}`), ParentEntity: "contact", ParentKey: "c/1"},
		{ID: "e-3", Account: "acme", Entity: "deal", Key: "d3", Op: event.OpDelete, Version: 9, ParentEntity: "contact", ParentKey: "c<1>"},
	}
	idss := []IDs{{}, {Self: "p-1"}, {Parent: "p-9"}, {Self: "p-1", Parent: "p-9"}}
	for _, src := range programs {
		q, err := gojq.Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		tm, ok := compileTemplate(q)
		if !ok {
			t.Fatalf("%s: not a template", src)
		}
		code, err := gojq.Compile(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			for _, ids := range idss {
				exact := newVerbatim()
				in, _, err := inputExact(e, ids, exact)
				if err != nil {
					t.Fatal(err)
				}
				want, err := one(code, in, exact)
				if err != nil {
					t.Fatal(err)
				}
				if got := tm.render(e, ids); !bytes.Equal(got, want) {
					t.Errorf("%s over %s %+v:\ntemplate %s\njq       %s", src, e.ID, ids, got, want)
				}
			}
		}
	}
	for _, src := range others {
		q, err := gojq.Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := compileTemplate(q); ok {
			t.Errorf("%s: taken as a template", src)
		}
	}
}

// The built-in API's profile renders its upserts by the template, with no
// jq run and no decoding of data.
func TestBuiltInProfileUsesTheTemplate(t *testing.T) {
	p, err := BuiltIn(Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := p.entity("anything").request(OpUpsert)
	if r == nil || r.tmpl == nil || r.needsData {
		t.Fatalf("the built-in upsert is not rendered by the template: %+v", r)
	}
	e := event.Event{ID: "e", Account: "a", Entity: "x", Key: "k", Op: event.OpUpsert, Version: 3, Data: json.RawMessage(`{"n":1}`)}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := p.RenderOp(OpUpsert, e, IDs{}); err != nil {
			t.Fatal(err)
		}
	})
	// the jq path takes some 40 allocations here (decoding data, the
	// program, encoding); the template a handful
	if allocs > 20 {
		t.Fatalf("RenderOp made %.0f allocations: not the template", allocs)
	}
}
