package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/itchyny/gojq"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/apiclient"
)

// Rendered is the request an event becomes: what would be sent, nothing
// sent.
type Rendered struct {
	Method  string
	URL     string
	Headers map[string]string
	Body    []byte // JSON; nil for no body
	// Idempotency is the name of the header that carries the event's
	// idempotency key (the request's idempotency_header); "" when the
	// partner has none. The sender sets its value.
	Idempotency string
}

// ErrNoRequest is returned for an op no request is configured for.
var ErrNoRequest = errors.New("no request for this op")

// Render builds the request of event e by the profile — RenderOp with
// OpDelete for a delete and OpUpsert otherwise, and no partner ids.
func (p *Profile) Render(e event.Event) (Rendered, error) {
	op := OpUpsert
	if e.Op == event.OpDelete {
		op = OpDelete
	}
	return p.RenderOp(op, e, IDs{})
}

// RenderOp builds the request op of event e becomes by the profile: its
// entity's section, or the defaults for an entity without one; ids are the
// partner's ids of the record and its parent ("" for none). Path
// placeholders are path-escaped, one segment each (RFC 3986); query values
// are query-escaped; the body is the one result of the request's jq program
// over the event (with partner_id and parent.partner_id when known), as
// JSON. The error wraps ErrNoRequest when the entity has no request for op;
// a placeholder with no value (a {partner_id} with ids.Self empty), a body
// program with no result or more than one are errors too.
func (p *Profile) RenderOp(op Op, e event.Event, ids IDs) (Rendered, error) {
	c := p.entity(e.Entity)
	r := c.request(op)
	if r == nil {
		return Rendered{}, fmt.Errorf("profile %s: %s %s: %w", p.Name, e.Entity, op, ErrNoRequest)
	}
	if !r.needsData && (r.body == nil || r.tmpl != nil && r.tmpl.usable(e)) {
		// nothing reads data but the body, and the body is a template (or
		// there is none): no decoding, no jq
		out, err := p.head(r, e, nil, ids)
		if err != nil {
			return Rendered{}, err
		}
		if r.tmpl != nil {
			out.Body = r.tmpl.render(e, ids)
			jsonContent(out.Headers)
		}
		return out, nil
	}
	exact := newVerbatim()
	in, data, err := inputExact(e, ids, exact)
	if err != nil {
		return Rendered{}, fmt.Errorf("profile %s: %w", p.Name, err)
	}
	out, err := p.head(r, e, data, ids)
	if err != nil {
		return Rendered{}, err
	}
	if r.body != nil {
		if out.Body, err = one(r.body, in, exact); err != nil {
			return Rendered{}, fmt.Errorf("profile %s: %s %s: body: %w", p.Name, e.Entity, op, err)
		}
		jsonContent(out.Headers)
	}
	return out, nil
}

// jsonContent sets Content-Type to application/json unless the profile
// set one: every body a profile builds is JSON.
func jsonContent(h map[string]string) {
	for k := range h {
		if strings.EqualFold(k, "Content-Type") {
			return
		}
	}
	h["Content-Type"] = "application/json"
}

// entity is what Check made of an entity: its own section, or the
// defaults'.
func (p *Profile) entity(name string) *compiled {
	if c, ok := p.checked[name]; ok {
		return c
	}
	return p.checked["*"]
}

// request is c's request for op; nil for none.
func (c *compiled) request(op Op) *request {
	if c == nil {
		return nil
	}
	switch op {
	case OpUpsert:
		return c.upsert
	case OpCreate:
		return c.create
	case OpUpdate:
		return c.update
	case OpDelete:
		return c.delete
	case OpFind:
		return c.find
	}
	return nil
}

// head is r's method, URL and headers for e, without the body.
func (p *Profile) head(r *request, e event.Event, data map[string]any, ids IDs) (Rendered, error) {
	path, err := fill(r.Path, e, data, ids, apiclient.PathSegment)
	if err != nil {
		return Rendered{}, fmt.Errorf("profile %s: path: %w", p.Name, err)
	}
	out := Rendered{Method: r.Method, URL: strings.TrimRight(p.BaseURL, "/") + path, Headers: map[string]string{}, Idempotency: r.Idempotency}
	if len(r.Query) > 0 {
		names := make([]string, 0, len(r.Query))
		for k := range r.Query {
			names = append(names, k)
		}
		sort.Strings(names)
		var q []string
		for _, k := range names {
			v, err := fill(r.Query[k], e, data, ids, func(s string) string { return s })
			if err != nil {
				return Rendered{}, fmt.Errorf("profile %s: query %s: %w", p.Name, k, err)
			}
			q = append(q, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
		out.URL += "?" + strings.Join(q, "&")
	}
	for k, v := range r.Headers {
		h, err := fill(v, e, data, ids, func(s string) string { return s })
		if err != nil {
			return Rendered{}, fmt.Errorf("profile %s: header %s: %w", p.Name, k, err)
		}
		out.Headers[k] = h
	}
	return out, nil
}

// one is the one result of code over in, as JSON (numbers noted in exact
// written as their own text; see encodeJSON).
func one(code *gojq.Code, in any, exact *verbatim) ([]byte, error) {
	v, ok, err := runOne(code, in)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("the jq program gave no result")
	}
	return encodeJSON(v, exact)
}

// inputExact is the event as jq sees it — with the partner's ids,
// partner_id and parent.partner_id, each present only when known — and its
// data as a map (nil for none), noting in exact (when not nil) the written
// text of every number of data that float64 cannot hold exactly, by its
// float64's bits, so that a body passing it through sends its digits
// (encodeJSON).
func inputExact(e event.Event, ids IDs, exact *verbatim) (map[string]any, map[string]any, error) {
	in := map[string]any{"id": e.ID, "account": e.Account, "entity": e.Entity, "key": e.Key, "op": string(e.Op), "version": int(e.Version)}
	var data map[string]any
	if len(e.Data) > 0 {
		dec := json.NewDecoder(bytes.NewReader(e.Data))
		dec.UseNumber() // numbers as written: no float64 rounding of large ids
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, nil, fmt.Errorf("data: %w", err)
		}
		var numbers map[uint64]string
		if exact != nil {
			numbers = exact.numbers
		}
		m, ok := normalizeExact(v, numbers).(map[string]any)
		if !ok {
			return nil, nil, errors.New("data: not a JSON object")
		}
		if exact != nil {
			exact.objects[reflect.ValueOf(m).Pointer()] = e.Data
		}
		data = m
		in["data"] = m
	}
	if ids.Self != "" {
		in["partner_id"] = ids.Self
	}
	if e.ParentEntity != "" {
		parent := map[string]any{"entity": e.ParentEntity, "key": e.ParentKey}
		if ids.Parent != "" {
			parent["partner_id"] = ids.Parent
		}
		in["parent"] = parent
	}
	return in, data, nil
}

// normalize turns json.Number into the numbers jq knows: int, *big.Int for
// a whole number too large for int, float64 otherwise.
func normalize(v any) any { return normalizeExact(v, nil) }

// normalizeExact is normalize noting in exact (when not nil) the text of a
// number float64 cannot hold exactly (12345678901234567890.5, 0.1000000000000000055).
func normalizeExact(v any, exact map[uint64]string) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
		}
		if b, ok := new(big.Int).SetString(string(x), 10); ok {
			return b
		}
		f, _ := x.Float64()
		if exact != nil {
			if r, ok := new(big.Rat).SetString(string(x)); ok {
				if fr := new(big.Rat); fr.SetFloat64(f) == nil || fr.Cmp(r) != 0 {
					exact[math.Float64bits(f)] = string(x)
				}
			}
		}
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeExact(e, exact)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeExact(e, exact)
		}
	}
	return v
}

// verbatim is what a body passing data through sends as it was written:
// numbers float64 cannot hold (their text by their float64's bits), and
// whole data objects the program passed on unchanged (the event's data
// bytes by the decoded map's identity: gojq never changes a map in place,
// so the same map is the same content).
type verbatim struct {
	numbers map[uint64]string
	objects map[uintptr][]byte
}

func newVerbatim() *verbatim {
	return &verbatim{numbers: map[uint64]string{}, objects: map[uintptr][]byte{}}
}

// encodeJSON is v as JSON, as encoding/json writes it, except that what
// exact notes is written as it was written: a number float64 cannot hold
// keeps its digits, and a data object passed through unchanged is the
// event's data bytes (as the built-in partner API sends it).
func encodeJSON(v any, exact *verbatim) ([]byte, error) {
	if exact == nil || len(exact.numbers) == 0 && len(exact.objects) == 0 {
		return json.Marshal(v)
	}
	var b bytes.Buffer
	if err := writeExact(&b, v, exact); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeExact(b *bytes.Buffer, v any, exact *verbatim) error {
	switch x := v.(type) {
	case float64:
		if text, ok := exact.numbers[math.Float64bits(x)]; ok {
			b.WriteString(text)
			return nil
		}
	case map[string]any:
		if raw, ok := exact.objects[reflect.ValueOf(x).Pointer()]; ok && x != nil {
			b.Write(raw)
			return nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			if err := writeExact(b, x[k], exact); err != nil {
				return err
			}
		}
		b.WriteByte('}')
		return nil
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeExact(b, e, exact); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b.Write(j)
	return nil
}

// parseJSON is body as jq sees it; an error when it is not JSON.
func parseJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the answer's body is not JSON: %w", err)
	}
	return normalize(v), nil
}
