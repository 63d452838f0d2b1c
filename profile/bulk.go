package profile

import (
	"fmt"
	"strings"
	"time"

	"github.com/itchyny/gojq"
	"github.com/streamsync/streamsync/event"
)

// Bulk limits (docs/partners.md, "Bulk").
const (
	DefaultBulkSize   = 100
	MaxBulkSize       = 1000
	DefaultBulkLinger = 5 * time.Millisecond
)

// compiledBulk is an entity's Bulk, compiled.
type compiledBulk struct {
	size           int
	linger         time.Duration
	req            *request
	results, match *gojq.Code
}

// bulkPlaceholders are what a bulk request's path, query and headers may
// hold: a batch spans records and accounts, so only the entity.
var bulkPlaceholders = []string{"entity"}

// compileBulk checks an entity's bulk section; problems name the field
// under "bulk".
func compileBulk(b Bulk, e Entity) (*compiledBulk, []problem) {
	var ps []problem
	fail := func(field, reason string) { ps = append(ps, problem{"bulk." + field, reason}) }
	c := &compiledBulk{size: b.Size, linger: DefaultBulkLinger}
	if c.size == 0 {
		c.size = DefaultBulkSize
	}
	if c.size < 1 || c.size > MaxBulkSize {
		fail("size", fmt.Sprintf("must be 1 to %d, is %d", MaxBulkSize, b.Size))
	}
	if b.Linger != "" {
		d, err := time.ParseDuration(b.Linger)
		if err != nil || d < 0 {
			fail("linger", fmt.Sprintf("must be a duration such as 5ms, is %q", b.Linger))
		}
		c.linger = d
	}
	if b.Request == nil {
		fail("request", "required: the batch request (method, path, body)")
	} else {
		r, rps := compile(*b.Request, e)
		for _, p := range rps {
			fail("request."+p.field, p.reason)
		}
		if b.Request.Body == "" {
			fail("request.body", "required: a jq program over the batch (an array of events) giving the request's body")
		}
		if b.Request.ID != "" || b.Request.IDFrom != "" {
			fail("request.id", "a bulk request's ids come from results (id), not id or id_from")
		}
		for _, f := range []struct{ name, s string }{{"path", r.Path}} {
			if err := checkNames(f.s, bulkPlaceholders); err != nil {
				fail("request."+f.name, err.Error()+": a batch holds many records")
			}
		}
		for k, v := range r.Query {
			if err := checkNames(v, bulkPlaceholders); err != nil {
				fail("request.query", k+": "+err.Error()+": a batch holds many records")
			}
		}
		for k, v := range r.Headers {
			if err := checkNames(v, bulkPlaceholders); err != nil {
				fail("request.headers", k+": "+err.Error()+": a batch holds many records")
			}
		}
		c.req = r
	}
	var err error
	if b.Results == "" {
		fail("results", "required: a jq program over the answer giving one result per item")
	} else if c.results, err = compileJQ(b.Results); err != nil {
		fail("results", "jq: "+err.Error())
	}
	if b.Match != "" {
		if c.match, err = compileJQ(b.Match); err != nil {
			fail("match", "jq: "+err.Error())
		}
	}
	return c, ps
}

// Bulk reports whether entity's upserts go in batches, and the batch's
// largest size and how long it waits for more events.
func (p *Profile) Bulk(entity string) (size int, linger time.Duration, ok bool) {
	c := p.entity(entity)
	if c == nil || c.bulk == nil {
		return 0, 0, false
	}
	return c.bulk.size, c.bulk.linger, true
}

// RenderBulk builds the one request a batch of entity's events becomes:
// its body the one result of bulk.request.body over an array of the events
// as a single request's body sees one (ids[i], when given, the partner's
// ids of batch[i]). The error wraps ErrNoRequest when the entity has no
// bulk section; a batch that is empty, larger than the size, or with ids
// not one per event is an error.
func (p *Profile) RenderBulk(entity string, batch []event.Event, ids []IDs) (Rendered, error) {
	c := p.entity(entity)
	if c == nil || c.bulk == nil {
		return Rendered{}, fmt.Errorf("profile %s: %s bulk: %w", p.Name, entity, ErrNoRequest)
	}
	if len(batch) == 0 || len(batch) > c.bulk.size {
		return Rendered{}, fmt.Errorf("profile %s: %s bulk: a batch holds 1 to %d events, not %d", p.Name, entity, c.bulk.size, len(batch))
	}
	if ids != nil && len(ids) != len(batch) {
		return Rendered{}, fmt.Errorf("profile %s: %s bulk: %d ids for %d events", p.Name, entity, len(ids), len(batch))
	}
	items := make([]any, len(batch))
	exact := newVerbatim()
	for i, e := range batch {
		var id IDs
		if ids != nil {
			id = ids[i]
		}
		in, _, err := inputExact(e, id, exact)
		if err != nil {
			return Rendered{}, fmt.Errorf("profile %s: %s bulk: event %s: %w", p.Name, entity, e.ID, err)
		}
		items[i] = in
	}
	out, err := p.head(c.bulk.req, event.Event{Entity: entity}, nil, IDs{})
	if err != nil {
		return Rendered{}, err
	}
	if out.Body, err = one(c.bulk.req.body, items, exact); err != nil {
		return Rendered{}, fmt.Errorf("profile %s: %s bulk: body: %w", p.Name, entity, err)
	}
	jsonContent(out.Headers)
	return out, nil
}

// ItemResult is the partner's answer for one item of a batch: OK when it
// was applied; ID the partner's id of a created record ("" when none);
// Status the item's own status (0 when the answer gives none), for the
// answer rules; Error the partner's message, or why the item has no
// result.
type ItemResult struct {
	OK     bool
	ID     string
	Status int
	Error  string
}

// BulkResults maps a batch's answer body back to its events: one result
// per item of batch, in batch's order. bulk.results gives the results (one
// array, or one result per item); each is an object {ok, id, status,
// error} — without ok, a 2xx status means ok. Without bulk.match the n-th
// result is the n-th item's; with it, match over a result gives the key or
// event id of the item it belongs to. An item with no result is not OK,
// its Error saying so: never taken as delivered. err is for an answer that
// cannot be read at all (not JSON, a failing program, more results than
// items without match), when no item may be taken as delivered either.
func (p *Profile) BulkResults(entity string, body []byte, batch []event.Event) ([]ItemResult, error) {
	c := p.entity(entity)
	if c == nil || c.bulk == nil {
		return nil, fmt.Errorf("profile %s: %s bulk: %w", p.Name, entity, ErrNoRequest)
	}
	fail := func(err error) ([]ItemResult, error) {
		return nil, fmt.Errorf("profile %s: %s bulk results: %w", p.Name, entity, err)
	}
	doc, err := parseJSON(body)
	if err != nil {
		return fail(err)
	}
	results, err := all(c.bulk.results, doc)
	if err != nil {
		return fail(err)
	}
	if len(results) == 1 {
		if arr, ok := results[0].([]any); ok {
			results = arr
		}
	}
	out := make([]ItemResult, len(batch))
	got := make([]bool, len(batch))
	if c.bulk.match == nil {
		if len(results) > len(batch) {
			return fail(fmt.Errorf("%d results for %d items, and no match to tell which is whose", len(results), len(batch)))
		}
		for i, r := range results {
			out[i], got[i] = itemResult(r), true
		}
	} else {
		for _, r := range results {
			v, ok := first(c.bulk.match, r)
			if !ok {
				continue
			}
			k, found, _ := idText(v)
			if !found {
				continue
			}
			if i := matchItem(batch, got, k); i >= 0 {
				out[i], got[i] = itemResult(r), true
			}
		}
	}
	for i := range out {
		if !got[i] {
			out[i] = ItemResult{Error: "the partner's answer has no result for this item"}
		}
	}
	return out, nil
}

// matchItem is the first item of batch without a result yet whose event id
// is k, else whose key is k; -1 for none.
func matchItem(batch []event.Event, got []bool, k string) int {
	for i, e := range batch {
		if !got[i] && e.ID == k {
			return i
		}
	}
	for i, e := range batch {
		if !got[i] && e.Key == k {
			return i
		}
	}
	return -1
}

// itemResult reads one result object.
func itemResult(v any) ItemResult {
	m, ok := v.(map[string]any)
	if !ok {
		return ItemResult{Error: fmt.Sprintf("a result must be an object {ok, id, status, error}, is %T", v)}
	}
	var r ItemResult
	if s, ok := m["status"].(int); ok {
		r.Status = s
	}
	if e, ok := m["error"]; ok && e != nil {
		if s, isStr := e.(string); isStr {
			r.Error = s
		} else {
			r.Error = fmt.Sprint(e)
		}
	}
	if id, found, err := idText(m["id"]); err == nil && found {
		r.ID = id
	}
	switch okv := m["ok"].(type) {
	case bool:
		r.OK = okv
	case nil:
		r.OK = r.Status >= 200 && r.Status < 300
		if r.Status == 0 && r.Error == "" {
			r.Error = "the result has neither ok nor status"
		}
	default:
		r.Error = strings.TrimSpace(r.Error + fmt.Sprintf(" (ok must be true or false, is %v)", okv))
	}
	return r
}

// all is every result of code over in; an error result stops it.
func all(code *gojq.Code, in any) ([]any, error) {
	var out []any
	iter := code.Run(in)
	for {
		v, ok := iter.Next()
		if !ok {
			return out, nil
		}
		if err, isErr := v.(error); isErr {
			return nil, fmt.Errorf("jq: %w", err)
		}
		out = append(out, v)
	}
}
