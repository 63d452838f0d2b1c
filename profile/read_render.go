package profile

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/streamsync/streamsync/internal/apiclient"
)

// ErrNoRead is returned for an entity whose profile has no read section.
var ErrNoRead = errors.New("no read section for this entity")

// read is the compiled read of entity (its section's, else the defaults').
// CanRead reports whether entity has a read section (its own or the
// defaults').
func (p *Profile) CanRead(entity string) bool {
	_, err := p.read(entity)
	return err == nil
}

func (p *Profile) read(entity string) (*compiledRead, error) {
	c := p.entity(entity)
	if c == nil || c.read == nil {
		return nil, fmt.Errorf("profile %s: %s: %w", p.Name, entity, ErrNoRead)
	}
	return c.read, nil
}

// GetNeedsPartnerID reports whether entity's point read names
// {partner_id}: the record's id at the partner, from the id map.
func (p *Profile) GetNeedsPartnerID(entity string) (bool, error) {
	cr, err := p.read(entity)
	if err != nil {
		return false, err
	}
	return cr.getPartnerID, nil
}

// MaxPageBytes bounds one list page's answer of entity (read.max_page_bytes,
// default 32 MiB).
func (p *Profile) MaxPageBytes(entity string) int64 {
	cr, err := p.read(entity)
	if err != nil {
		return DefaultMaxPageBytes
	}
	return cr.maxPageBytes
}

// RenderGet builds the point read of one record: read.get with {key} our
// key, {partner_id} the partner's id of it ("" when get does not name it)
// and {account} empty. Nothing is sent.
func (p *Profile) RenderGet(entity, key, partnerID string) (Rendered, error) {
	cr, err := p.read(entity)
	if err != nil {
		return Rendered{}, err
	}
	if cr.getPartnerID && partnerID == "" {
		return Rendered{}, fmt.Errorf("profile %s: %s/%s: read.get needs {partner_id}, and the record has none", p.Name, entity, key)
	}
	return p.renderRead(cr.get, map[string]string{"key": key, "partner_id": partnerID, "entity": entity}, nil)
}

// ParseGet reads a point read's answer (status 200) for key: the item
// itself, or — when read.items finds an array in it — the list's item whose
// key is key. found
// is false when the answer holds no such item; a soft-deleted item is
// found, with Deleted set.
func (p *Profile) ParseGet(entity, key string, body []byte) (Item, bool, error) {
	cr, err := p.read(entity)
	if err != nil {
		return Item{}, false, err
	}
	v, err := decodeJSON(body)
	if err != nil {
		return Item{}, false, err
	}
	raws := []any{v}
	if cr.getItem != nil {
		x, ok, err := runOne(cr.getItem, v)
		if err != nil {
			return Item{}, false, fmt.Errorf("read.get_item: %w", err)
		}
		if !ok || x == nil {
			return Item{}, false, nil
		}
		raws = []any{x}
	} else if cr.items != nil {
		// Many APIs answer a list wrapped and one record bare: read.items
		// applies when it finds an array, else the body is the item.
		if arr, err := cr.pageItems(v); err == nil && arr != nil {
			raws = arr
		}
	}
	if m, ok := raws[0].(map[string]any); ok && len(raws) == 1 && m["key"] == nil {
		// a point read's one record that does not name its key (the
		// built-in API's GET) is the record of the key asked for
		m["key"] = key
	}
	for _, raw := range raws {
		it, err := cr.mapItem(p.Versions(), raw)
		if err != nil {
			return Item{}, false, err
		}
		if it.Key == key {
			return it, true, nil
		}
	}
	return Item{}, false, nil
}

// renderRead fills a read request's placeholders from vals (path values
// path-escaped, one segment each). A query parameter or header whose value
// comes out empty is left out (an {account} when every account is read);
// an empty path placeholder is an error. extra are query parameters added
// (paging's), after the request's own.
func (p *Profile) renderRead(r *readRequest, vals map[string]string, extra url.Values) (Rendered, error) {
	var missing string
	fillWith := func(s string, esc func(string) string) string {
		return expand(s, func(name string) string {
			v := vals[name]
			if v == "" && missing == "" {
				missing = "{" + name + "}"
			}
			return esc(v)
		})
	}
	path := fillWith(r.path, apiclient.PathSegment)
	if missing != "" {
		return Rendered{}, fmt.Errorf("profile %s: read path %s: %s is empty", p.Name, r.path, missing)
	}
	out := Rendered{Method: r.method, URL: strings.TrimRight(p.BaseURL, "/") + path, Headers: map[string]string{}}
	var q []string
	for _, k := range sortedKeys(r.query) {
		if v := fillWith(r.query[k], func(s string) string { return s }); v != "" {
			q = append(q, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
	}
	if len(extra) > 0 {
		q = append(q, extra.Encode())
	}
	if len(q) > 0 {
		sep := "?"
		if strings.Contains(out.URL, "?") {
			sep = "&"
		}
		out.URL += sep + strings.Join(q, "&")
	}
	for k, v := range r.headers {
		if h := fillWith(v, func(s string) string { return s }); h != "" {
			out.Headers[k] = h
		}
	}
	return out, nil
}

// WithBaseURL is the profile with base_url replaced (sink.base_url wins
// over the profile's, so one profile serves a test server and production
// alike); "" returns p. The copy shares what Parse compiled, read-only.
func (p *Profile) WithBaseURL(base string) *Profile {
	if base == "" {
		return p
	}
	q := *p
	q.BaseURL = base
	return &q
}
