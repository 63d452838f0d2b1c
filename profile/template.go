package profile

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/itchyny/gojq"
	"github.com/streamsync/streamsync/event"
)

// template renders a body program of the common shape — an object of the
// event's own fields and constants, optionally plus another such object
// when a field is there ({account, version, data} + (if .parent then
// {parent: {entity: .parent.entity, key: .parent.key}} else {} end)) —
// straight from the event, writing exactly what the jq program would:
// keys sorted, strings as encoding/json writes them, data as the event's
// bytes. It decodes nothing. Any other program runs in jq.
type template struct {
	base   *tmplObject
	cond   string      // the field whose presence adds extra; "": no extra
	merged *tmplObject // base + extra (extra's keys win), for when cond holds
}

type tmplObject struct {
	keys []string
	vals []tmplValue
	// names are the keys as JSON ("account":), written once at compile time
	names [][]byte
}

// tmplValue is one of: a field of the event (its name in templateFields),
// a constant (konst, JSON), an object.
type tmplValue struct {
	field string
	konst []byte
	obj   *tmplObject
}

// templateFields are the event's fields a template reads (the jq input of
// render.go's inputExact); anything else runs in jq.
var templateFields = map[string]bool{"id": true, "account": true, "entity": true, "key": true, "op": true,
	"version": true, "data": true, "partner_id": true, "parent": true,
	"parent.entity": true, "parent.key": true, "parent.partner_id": true}

// compileTemplate is q as a template; ok is false when q has another shape.
func compileTemplate(q *gojq.Query) (*template, bool) {
	if q == nil || len(q.FuncDefs) > 0 || len(q.Imports) > 0 || q.Meta != nil {
		return nil, false
	}
	if q.Op == gojq.OpAdd && q.Left != nil && q.Right != nil {
		base, ok := templateObject(q.Left)
		if !ok {
			return nil, false
		}
		t := q.Right.Term
		if q.Right.Op != 0 || t == nil || t.Type != gojq.TermTypeQuery || len(t.SuffixList) > 0 || t.Query == nil {
			return nil, false
		}
		inner := t.Query
		if inner.Op != 0 || inner.Term == nil || inner.Term.Type != gojq.TermTypeIf || len(inner.Term.SuffixList) > 0 {
			return nil, false
		}
		f := inner.Term.If
		if len(f.Elif) > 0 || f.Else == nil {
			return nil, false
		}
		cond, ok := templatePath(f.Cond)
		if !ok {
			return nil, false
		}
		extra, ok := templateObject(f.Then)
		if !ok {
			return nil, false
		}
		if empty, ok := templateObject(f.Else); !ok || len(empty.keys) > 0 {
			return nil, false
		}
		return &template{base: base, cond: cond, merged: mergeObjects(base, extra)}, true
	}
	base, ok := templateObject(q)
	if !ok {
		return nil, false
	}
	return &template{base: base}, true
}

// templateObject is q when it is an object of event fields, string
// constants, true, false, null and such objects, its keys sorted.
func templateObject(q *gojq.Query) (*tmplObject, bool) {
	if q == nil || q.Op != 0 || q.Term == nil || q.Term.Type != gojq.TermTypeObject || len(q.Term.SuffixList) > 0 {
		return nil, false
	}
	o := &tmplObject{}
	byKey := map[string]tmplValue{}
	for _, kv := range q.Term.Object.KeyVals {
		key := kv.Key
		switch {
		case kv.KeyQuery != nil:
			return nil, false
		case kv.KeyString != nil:
			if len(kv.KeyString.Queries) > 0 {
				return nil, false
			}
			key = kv.KeyString.Str
		case key == "" || key[0] == '$':
			return nil, false
		}
		var v tmplValue
		if kv.Val == nil { // {account}: .account
			if kv.KeyString != nil || !templateFields[key] {
				return nil, false
			}
			v.field = key
		} else {
			var ok bool
			if v, ok = templateValue(kv.Val); !ok {
				return nil, false
			}
		}
		if _, dup := byKey[key]; dup {
			return nil, false
		}
		byKey[key] = v
		o.keys = append(o.keys, key)
	}
	slices.Sort(o.keys)
	for _, k := range o.keys {
		o.vals = append(o.vals, byKey[k])
	}
	o.encodeNames()
	return o, true
}

// encodeNames writes every key as JSON, with its colon.
func (o *tmplObject) encodeNames() {
	o.names = make([][]byte, len(o.keys))
	for i, k := range o.keys {
		j, _ := json.Marshal(k)
		o.names[i] = append(j, ':')
	}
}

func templateValue(q *gojq.Query) (tmplValue, bool) {
	if f, ok := templatePath(q); ok {
		return tmplValue{field: f}, true
	}
	if o, ok := templateObject(q); ok {
		return tmplValue{obj: o}, true
	}
	if q.Op != 0 || q.Term == nil || len(q.Term.SuffixList) > 0 {
		return tmplValue{}, false
	}
	switch q.Term.Type {
	case gojq.TermTypeNull:
		return tmplValue{konst: []byte("null")}, true
	case gojq.TermTypeTrue:
		return tmplValue{konst: []byte("true")}, true
	case gojq.TermTypeFalse:
		return tmplValue{konst: []byte("false")}, true
	case gojq.TermTypeString:
		if q.Term.Str == nil || len(q.Term.Str.Queries) > 0 || q.Term.Format != "" {
			return tmplValue{}, false
		}
		b, err := json.Marshal(q.Term.Str.Str)
		if err != nil {
			return tmplValue{}, false
		}
		return tmplValue{konst: b}, true
	}
	return tmplValue{}, false
}

// templatePath is q's field when q is .field or .field.field of
// templateFields ("parent.key").
func templatePath(q *gojq.Query) (string, bool) {
	if q == nil || q.Op != 0 || q.Term == nil || q.Term.Type != gojq.TermTypeIndex || q.Term.Index == nil {
		return "", false
	}
	ix := q.Term.Index
	if ix.Name == "" || ix.Str != nil || ix.Start != nil || ix.End != nil || ix.IsSlice {
		return "", false
	}
	field := ix.Name
	for i, s := range q.Term.SuffixList {
		if i > 0 || s.Iter || s.Optional || s.Index == nil || s.Index.Name == "" || s.Index.Str != nil || s.Index.Start != nil || s.Index.IsSlice {
			return "", false
		}
		field += "." + s.Index.Name
	}
	if !templateFields[field] {
		return "", false
	}
	return field, true
}

// usable reports whether the template can render e: its data, when it has
// any, is a JSON object (validated events always; anything else runs in jq,
// which says what is wrong).
func (t *template) usable(e event.Event) bool {
	d := bytes.TrimLeft(e.Data, " \t\r\n")
	return len(e.Data) == 0 || len(d) > 0 && d[0] == '{'
}

// render writes the body of e, ids as the jq program would.
func (t *template) render(e event.Event, ids IDs) []byte {
	var b bytes.Buffer
	b.Grow(len(e.Data) + 128)
	o := t.base
	if t.cond != "" && truthy(e, ids, t.cond) {
		o = t.merged
	}
	writeObject(&b, o, e, ids)
	return b.Bytes()
}

// mergeObjects is a + b as jq adds objects: b's keys win; keys sorted.
func mergeObjects(a, b *tmplObject) *tmplObject {
	vals := map[string]tmplValue{}
	for i, k := range a.keys {
		vals[k] = a.vals[i]
	}
	for i, k := range b.keys {
		vals[k] = b.vals[i]
	}
	out := &tmplObject{}
	for k := range vals {
		out.keys = append(out.keys, k)
	}
	slices.Sort(out.keys)
	for _, k := range out.keys {
		out.vals = append(out.vals, vals[k])
	}
	out.encodeNames()
	return out
}

func writeObject(b *bytes.Buffer, o *tmplObject, e event.Event, ids IDs) {
	b.WriteByte('{')
	for i := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(o.names[i])
		v := o.vals[i]
		switch {
		case v.obj != nil:
			writeObject(b, v.obj, e, ids)
		case v.konst != nil:
			b.Write(v.konst)
		default:
			writeField(b, e, ids, v.field)
		}
	}
	b.WriteByte('}')
}

// writeField writes a field of the event as the jq input holds it: null
// when absent (no parent, no partner id, no data).
func writeField(b *bytes.Buffer, e event.Event, ids IDs, field string) {
	switch field {
	case "id":
		writeString(b, e.ID)
	case "account":
		writeString(b, e.Account)
	case "entity":
		writeString(b, e.Entity)
	case "key":
		writeString(b, e.Key)
	case "op":
		writeString(b, string(e.Op))
	case "version":
		b.WriteString(strconv.FormatInt(e.Version, 10))
	case "data":
		if len(e.Data) == 0 {
			b.WriteString("null")
		} else {
			b.Write(e.Data)
		}
	case "partner_id":
		writeOptional(b, ids.Self)
	case "parent":
		if e.ParentEntity == "" {
			b.WriteString("null")
			return
		}
		b.WriteString(`{"entity":`)
		writeString(b, e.ParentEntity)
		b.WriteString(`,"key":`)
		writeString(b, e.ParentKey)
		if ids.Parent != "" {
			b.WriteString(`,"partner_id":`)
			writeString(b, ids.Parent)
		}
		b.WriteByte('}')
	case "parent.entity":
		writeParentField(b, e, e.ParentEntity)
	case "parent.key":
		writeParentField(b, e, e.ParentKey)
	case "parent.partner_id":
		if e.ParentEntity == "" {
			b.WriteString("null")
			return
		}
		writeOptional(b, ids.Parent)
	}
}

func writeParentField(b *bytes.Buffer, e event.Event, v string) {
	if e.ParentEntity == "" {
		b.WriteString("null")
		return
	}
	writeString(b, v)
}

func writeOptional(b *bytes.Buffer, s string) {
	if s == "" {
		b.WriteString("null")
		return
	}
	writeString(b, s)
}

// writeString writes s as encoding/json does (HTML characters escaped).
func writeString(b *bytes.Buffer, s string) {
	j, _ := json.Marshal(s)
	b.Write(j)
}

// truthy is jq's truth of a field: present, and neither null nor false.
func truthy(e event.Event, ids IDs, field string) bool {
	switch field {
	case "data":
		return len(e.Data) > 0
	case "partner_id":
		return ids.Self != ""
	case "parent", "parent.entity", "parent.key":
		return e.ParentEntity != ""
	case "parent.partner_id":
		return e.ParentEntity != "" && ids.Parent != ""
	}
	return true // strings and the version: present and truthy
}
