package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"sort"
	"strings"

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
	// Idempotency names the header that carries the event's idempotency
	// key ("": none); the sender sets its value.
	Idempotency string
}

// ErrNoRequest is returned for an op no request is configured for.
var ErrNoRequest = errors.New("no request for this op")

// Render builds the request of event e by the profile: its entity's
// section, or the defaults for an entity without one. Path placeholders are
// path-escaped, one segment each (RFC 3986); query values are
// query-escaped; the body is the one result of the request's jq program
// over the event, as JSON. A program with no result, or more than one, is
// an error.
func (p *Profile) Render(e event.Event) (Rendered, error) {
	c, ok := p.checked[e.Entity]
	if !ok {
		c = p.checked["*"]
	}
	var r *request
	switch e.Op {
	case event.OpDelete:
		r = c.delete
	default:
		r = c.upsert
	}
	if r == nil {
		return Rendered{}, fmt.Errorf("profile %s: %s %s: %w", p.Name, e.Entity, e.Op, ErrNoRequest)
	}
	in, data, err := input(e)
	if err != nil {
		return Rendered{}, err
	}
	path, err := fill(r.Path, e, data, apiclient.PathSegment)
	if err != nil {
		return Rendered{}, fmt.Errorf("profile %s: path: %w", p.Name, err)
	}
	out := Rendered{Method: r.Method, URL: strings.TrimRight(p.BaseURL, "/") + path, Headers: map[string]string{}}
	if len(r.Query) > 0 {
		names := make([]string, 0, len(r.Query))
		for k := range r.Query {
			names = append(names, k)
		}
		sort.Strings(names)
		var q []string
		for _, k := range names {
			v, err := fill(r.Query[k], e, data, func(s string) string { return s })
			if err != nil {
				return Rendered{}, fmt.Errorf("profile %s: query %s: %w", p.Name, k, err)
			}
			q = append(q, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
		out.URL += "?" + strings.Join(q, "&")
	}
	for k, v := range r.Headers {
		h, err := fill(v, e, data, func(s string) string { return s })
		if err != nil {
			return Rendered{}, fmt.Errorf("profile %s: header %s: %w", p.Name, k, err)
		}
		out.Headers[k] = h
	}
	if r.body != nil {
		iter := r.body.Run(in)
		v, ok := iter.Next()
		if !ok {
			return Rendered{}, fmt.Errorf("profile %s: body: the jq program gave no result", p.Name)
		}
		if err, isErr := v.(error); isErr {
			return Rendered{}, fmt.Errorf("profile %s: body: jq: %w", p.Name, err)
		}
		if _, more := iter.Next(); more {
			return Rendered{}, fmt.Errorf("profile %s: body: the jq program gave more than one result", p.Name)
		}
		if out.Body, err = json.Marshal(v); err != nil {
			return Rendered{}, fmt.Errorf("profile %s: body: %w", p.Name, err)
		}
	}
	return out, nil
}

// input is the event as jq sees it, and its data as a map (nil for none).
func input(e event.Event) (map[string]any, map[string]any, error) {
	in := map[string]any{"id": e.ID, "account": e.Account, "entity": e.Entity, "key": e.Key, "op": string(e.Op), "version": e.Version}
	var data map[string]any
	if len(e.Data) > 0 {
		dec := json.NewDecoder(bytes.NewReader(e.Data))
		dec.UseNumber() // numbers as written: no float64 rounding of large ids
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, nil, fmt.Errorf("data: %w", err)
		}
		m, ok := normalize(v).(map[string]any)
		if !ok {
			return nil, nil, errors.New("data: not a JSON object")
		}
		data = m
		in["data"] = m
	}
	if e.ParentEntity != "" {
		in["parent"] = map[string]any{"entity": e.ParentEntity, "key": e.ParentKey}
	}
	return in, data, nil
}

// normalize turns json.Number into the numbers jq knows: int, *big.Int for
// a whole number too large for int, float64 otherwise.
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
		}
		if b, ok := new(big.Int).SetString(string(x), 10); ok {
			return b
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	}
	return v
}
