package profile

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/itchyny/gojq"
)

// Read defaults (docs/partners.md, "Reads").
const (
	DefaultPageSize     = 100
	DefaultMaxPageBytes = 32 << 20 // one list page's answer
	// MaxGetBytes bounds a point read's answer: one record.
	MaxGetBytes = 1 << 20
)

// ReadPlaceholders are the names a read's path, query and header values may
// hold: our key, the partner's id of the record (get only; from the id map)
// and the account being listed.
var ReadPlaceholders = []string{"entity", "key", "partner_id", "account"}

var pagingKinds = []string{PagingCursor, PagingNextLink, PagingLinkHeader, PagingOffset, PagingPage}

// compiledRead is an entity's Read, compiled; compiledCompare its Compare.
type compiledRead struct {
	get, list     *readRequest
	paging        Paging
	items, item   *gojq.Code
	getItem       *gojq.Code
	next          *gojq.Code
	maxPageBytes  int64
	getPartnerID  bool           // get names {partner_id}: a point read needs the id map
	listByAccount bool           // list names {account}: the partner filters by account
	since         *compiledSince // nil: the list cannot be asked for changes only
}

type readRequest struct {
	method, path   string
	query, headers map[string]string
}

type compiledCompare struct {
	fields []string // empty: all of data
	times  map[string]bool
	fold   map[string]bool // compared without regard to case
}

// compileRead checks an entity's read and compare sections (merged with
// the defaults); problems name the field under "read" or "compare".
func compileRead(e Entity) (*compiledRead, *compiledCompare, []problem) {
	var ps []problem
	var cc *compiledCompare
	if e.Compare != nil {
		cc = &compiledCompare{fields: slices.Clone(e.Compare.Fields), times: map[string]bool{}, fold: map[string]bool{}}
		for i, f := range e.Compare.CaseInsensitive {
			if f == "" || strings.ContainsAny(f, ".[]") {
				ps = append(ps, problem{fmt.Sprintf("compare.case_insensitive[%d]", i), fmt.Sprintf("must name a top-level field of data, is %q", f)})
			}
			cc.fold[f] = true
		}
		for i, f := range e.Compare.Fields {
			if f == "" || strings.ContainsAny(f, ".[]") {
				ps = append(ps, problem{fmt.Sprintf("compare.fields[%d]", i), fmt.Sprintf("must name a top-level field of data, is %q", f)})
			}
		}
		for i, f := range e.Compare.Times {
			if f == "" || strings.ContainsAny(f, ".[]") {
				ps = append(ps, problem{fmt.Sprintf("compare.times[%d]", i), fmt.Sprintf("must name a top-level field of data, is %q", f)})
			}
			cc.times[f] = true
		}
	}
	r := e.Read
	if r == nil {
		return nil, cc, ps
	}
	cr := &compiledRead{paging: r.Paging, maxPageBytes: r.MaxPageBytes}
	if cr.maxPageBytes == 0 {
		cr.maxPageBytes = DefaultMaxPageBytes
	} else if cr.maxPageBytes < 0 {
		ps = append(ps, problem{"read.max_page_bytes", "must be positive"})
	}
	if r.Get == nil {
		ps = append(ps, problem{"read.get", "required: differences found in a list are checked by reading the record itself"})
	} else {
		var gps []problem
		cr.get, gps = compileReadRequest(*r.Get, e, "read.get")
		ps = append(ps, gps...)
		cr.getPartnerID = cr.get.names("partner_id")
	}
	if r.List == nil {
		ps = append(ps, problem{"read.list", "required: reconciliation lists every record"})
	} else {
		var lps []problem
		cr.list, lps = compileReadRequest(*r.List, e, "read.list")
		ps = append(ps, lps...)
		if cr.list.names("partner_id") {
			ps = append(ps, problem{"read.list.path", "{partner_id} names one record; a list has none"})
		}
		cr.listByAccount = cr.list.names("account")
	}
	ps = append(ps, compilePaging(cr, r.Paging)...)
	var err error
	if cr.getItem, err = compileOptionalJQ(r.GetItem); err != nil {
		ps = append(ps, problem{"read.get_item", "jq: " + err.Error()})
	}
	if cr.items, err = compileOptionalJQ(r.Items); err != nil {
		ps = append(ps, problem{"read.items", "jq: " + err.Error()})
	}
	if cr.item, err = compileOptionalJQ(r.Item); err != nil {
		ps = append(ps, problem{"read.item", "jq: " + err.Error()})
	}
	return cr, cc, ps
}

func compilePaging(cr *compiledRead, pg Paging) []problem {
	var ps []problem
	if !slices.Contains(pagingKinds, pg.Kind) {
		return []problem{{"read.paging.kind", fmt.Sprintf("must be one of %s, is %q", strings.Join(pagingKinds, ", "), pg.Kind)}}
	}
	if cr.paging.Size == 0 {
		cr.paging.Size = DefaultPageSize
	} else if pg.Size < 0 {
		ps = append(ps, problem{"read.paging.size", "must be positive"})
	}
	switch pg.Kind {
	case PagingCursor, PagingNextLink:
		if pg.Next == "" {
			ps = append(ps, problem{"read.paging.next", "required for " + pg.Kind + ": a jq program over the body giving the next " +
				map[string]string{PagingCursor: "cursor", PagingNextLink: "page's link"}[pg.Kind]})
		} else {
			var err error
			if cr.next, err = compileOptionalJQ(pg.Next); err != nil {
				ps = append(ps, problem{"read.paging.next", "jq: " + err.Error()})
			}
		}
		if pg.Kind == PagingCursor && pg.Param == "" {
			ps = append(ps, problem{"read.paging.param", "required for cursor: the query parameter the cursor goes back in"})
		}
	case PagingOffset, PagingPage:
		if cr.paging.Param == "" {
			cr.paging.Param = map[string]string{PagingOffset: "offset", PagingPage: "page"}[pg.Kind]
		}
		if pg.Kind == PagingPage && pg.First == 0 {
			cr.paging.First = 1
		}
		if pg.Kind == PagingOffset && pg.First != 0 {
			ps = append(ps, problem{"read.paging.first", "only for page"})
		}
	}
	if pg.Kind != PagingCursor && pg.Kind != PagingNextLink && pg.Next != "" {
		ps = append(ps, problem{"read.paging.next", "only for cursor and next_link"})
	}
	return ps
}

// compileOptionalJQ compiles a jq program; nil for "" (the identity).
func compileOptionalJQ(src string) (*gojq.Code, error) {
	if src == "" {
		return nil, nil
	}
	return compileJQ(src)
}

// compileReadRequest checks a get or list request: method GET (default) or
// POST (some APIs search by POST), a path, and placeholders of
// ReadPlaceholders only. The entity's headers and query are folded in.
func compileReadRequest(r Request, e Entity, at string) (*readRequest, []problem) {
	var ps []problem
	out := &readRequest{method: strings.ToUpper(r.Method), path: r.Path,
		query: mergeMaps(e.Query, r.Query), headers: mergeMaps(e.Headers, r.Headers)}
	if out.method == "" {
		out.method = http.MethodGet
	}
	if out.method != http.MethodGet && out.method != http.MethodPost {
		ps = append(ps, problem{at + ".method", fmt.Sprintf("must be GET or POST, is %q", r.Method)})
	}
	if r.Body != "" {
		ps = append(ps, problem{at + ".body", "a read sends no body"})
	}
	if !strings.HasPrefix(r.Path, "/") {
		ps = append(ps, problem{at + ".path", fmt.Sprintf("must start with /, is %q", r.Path)})
	} else if err := checkReadPlaceholders(r.Path); err != nil {
		ps = append(ps, problem{at + ".path", err.Error()})
	}
	for _, k := range sortedKeys(out.query) {
		if err := checkReadPlaceholders(out.query[k]); err != nil {
			ps = append(ps, problem{at + ".query", k + ": " + err.Error()})
		}
	}
	for _, k := range sortedKeys(out.headers) {
		if err := checkReadPlaceholders(out.headers[k]); err != nil {
			ps = append(ps, problem{at + ".headers", k + ": " + err.Error()})
		}
	}
	return out, ps
}

// names reports whether the request holds the placeholder {name} anywhere.
func (r *readRequest) names(name string) bool {
	ph := "{" + name + "}"
	if strings.Contains(r.path, ph) {
		return true
	}
	for _, m := range []map[string]string{r.query, r.headers} {
		for _, v := range m {
			if strings.Contains(v, ph) {
				return true
			}
		}
	}
	return false
}

func checkReadPlaceholders(s string) error {
	for _, m := range placeholderRe.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(ReadPlaceholders, m[1]) {
			return fmt.Errorf("unknown placeholder {%s} in a read (known: {%s})", m[1], strings.Join(ReadPlaceholders, "}, {"))
		}
	}
	if strings.Count(s, "{") != strings.Count(s, "}") {
		return fmt.Errorf("unbalanced braces in %q", s)
	}
	return nil
}
