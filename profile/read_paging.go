package profile

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/streamsync/streamsync/internal/apiclient"
)

// ErrPagingLoop is a list whose next cursor or link came back: read on, it
// would never end.
var ErrPagingLoop = errors.New("the list's next page was one already read: it would never end")

// Pager walks one entity's list a page at a time, by the profile's paging
// (docs/partners.md, "Reads"). It sends nothing: Request renders the next
// page's request, Page reads its answer and moves on. Not safe for
// concurrent use.
type Pager struct {
	p       *Profile
	cr      *compiledRead
	entity  string
	account string
	base    *url.URL

	link    string // next_link, link_header: the next page's URL; "" before the first
	cursor  string
	offset  int
	page    int
	done    bool
	lastURL string          // the request whose answer Page reads: relative links resolve against it
	seen    map[string]bool // cursors and links already followed
	lastSig [32]byte        // offset, page: the previous page's keys, to catch a parameter the partner ignores

	since   string    // a listing of changes (ChangesPager): read.since's value; "" otherwise
	changed []Changed // a listing of changes: the last page's
}

// Pager starts the listing of entity; account, when set, fills {account}
// (a list that names none reads every account).
func (p *Profile) Pager(entity, account string) (*Pager, error) {
	cr, err := p.read(entity)
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(strings.TrimRight(p.BaseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("profile %s: base_url: %w", p.Name, err)
	}
	return &Pager{p: p, cr: cr, entity: entity, account: account, base: base, page: cr.paging.First, seen: map[string]bool{}}, nil
}

// ListsByAccount reports whether the list names {account}, so that the
// partner filters it by account.
func (pg *Pager) ListsByAccount() bool { return pg.cr.listByAccount }

// Done reports whether the last page was read.
func (pg *Pager) Done() bool { return pg.done }

// Request renders the next page's request.
func (pg *Pager) Request() (Rendered, error) {
	if pg.done {
		return Rendered{}, errors.New("the list was read to its end")
	}
	var out Rendered
	var err error
	if pg.link != "" {
		// A followed link carries its own query; the list's headers still apply.
		out, err = pg.p.renderRead(pg.cr.list, map[string]string{"account": pg.account, "entity": pg.entity}, nil)
		out.URL = pg.link
	} else {
		extra := url.Values{}
		pgs := pg.cr.paging
		if pgs.SizeParam != "" {
			extra.Set(pgs.SizeParam, strconv.Itoa(pgs.Size))
		}
		if pg.since != "" {
			extra.Set(pg.cr.since.param, pg.since)
		}
		switch pgs.Kind {
		case PagingCursor:
			if pg.cursor != "" {
				extra.Set(pgs.Param, pg.cursor)
			}
		case PagingOffset:
			extra.Set(pgs.Param, strconv.Itoa(pg.offset))
		case PagingPage:
			extra.Set(pgs.Param, strconv.Itoa(pg.page))
		}
		out, err = pg.p.renderRead(pg.cr.list, map[string]string{"account": pg.account, "entity": pg.entity}, extra)
	}
	if err != nil {
		return Rendered{}, err
	}
	pg.lastURL = out.URL
	return out, nil
}

// Page reads the answer (status 200) to the last Request: the page's items
// in our shape, soft-deleted ones included with Deleted set, and the next
// page's state. A cursor or link already followed ends the listing with an
// error wrapping ErrPagingLoop; a link to another origin than base_url's
// with one wrapping apiclient.ErrOtherOrigin (never fetched).
func (pg *Pager) Page(header http.Header, body []byte) ([]Item, error) {
	v, err := decodeJSON(body)
	if err != nil {
		return nil, err
	}
	raws, err := pg.cr.pageItems(v)
	if err != nil {
		return nil, err
	}
	items := make([]Item, 0, len(raws))
	for _, raw := range raws {
		it, err := pg.mapOne(raw)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	switch pg.cr.paging.Kind {
	case PagingCursor:
		next, err := pg.nextValue(v)
		if err != nil {
			return nil, err
		}
		if next == "" {
			pg.done = true
		} else if err := pg.follow(next); err != nil {
			return nil, err
		} else {
			pg.cursor = next
		}
	case PagingNextLink, PagingLinkHeader:
		var next string
		if pg.cr.paging.Kind == PagingNextLink {
			if next, err = pg.nextValue(v); err != nil {
				return nil, err
			}
		} else {
			next = NextLink(header.Values("Link"))
		}
		if next == "" {
			pg.done = true
			break
		}
		from, _ := url.Parse(pg.lastURL)
		ref, err := url.Parse(next)
		if err != nil {
			return nil, fmt.Errorf("next link %q: %w", next, err)
		}
		u, err := apiclient.SameOrigin(pg.base, from.ResolveReference(ref).String())
		if err != nil {
			return nil, fmt.Errorf("next link: %w", err)
		}
		if err := pg.follow(u.String()); err != nil {
			return nil, err
		}
		pg.link = u.String()
	case PagingOffset, PagingPage:
		// A short or empty page is the last. A full page whose keys are the
		// previous page's means the partner ignores the parameter.
		if len(raws) == 0 || len(raws) < pg.cr.paging.Size {
			pg.done = true
			break
		}
		h := sha256.New()
		for _, it := range items {
			h.Write([]byte(it.Key))
			h.Write([]byte{0})
		}
		var sig [32]byte
		copy(sig[:], h.Sum(nil))
		if sig == pg.lastSig {
			return nil, fmt.Errorf("%w: two pages in a row held the same records (does the partner take paging.param %q?)", ErrPagingLoop, pg.cr.paging.Param)
		}
		pg.lastSig = sig
		if pg.cr.paging.Kind == PagingOffset {
			pg.offset += len(raws)
		} else {
			pg.page++
		}
	}
	return items, nil
}

func (pg *Pager) follow(next string) error {
	if pg.seen[next] {
		return fmt.Errorf("%w: %q came back", ErrPagingLoop, apiclient.RedactURL(next))
	}
	pg.seen[next] = true
	return nil
}

// nextValue is paging.next's result: a string or number; null or "" is
// the end.
func (pg *Pager) nextValue(body any) (string, error) {
	v, ok, err := runOne(pg.cr.next, body)
	if err != nil {
		return "", fmt.Errorf("read.paging.next: %w", err)
	}
	if !ok || v == nil {
		return "", nil
	}
	s, ok := itemText(v)
	if !ok {
		return "", fmt.Errorf("read.paging.next: gave %s, not a string", typeName(v))
	}
	return s, nil
}
