package profile

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/itchyny/gojq"
	"github.com/streamsync/streamsync/internal/apiclient"
)

// Formats of the moment a list is asked for changes since (Since.Format).
const (
	SinceUnixMS  = "unix_ms" // milliseconds since 1970 (the default)
	SinceUnix    = "unix"    // seconds since 1970
	SinceRFC3339 = "rfc3339" // 2026-01-02T03:04:05Z, whole seconds, UTC
)

var sinceFormats = []string{SinceUnixMS, SinceUnix, SinceRFC3339}

// Since is how an entity's list is asked for only the records changed
// since a moment, and how each item's updated time is read: what polling a
// partner for its changes needs (docs/partners.md, "Polling a partner").
type Since struct {
	// Param is the list's query parameter that carries the moment
	// (updated_since, updated_after, modified_from …). Required.
	Param string `yaml:"param"`
	// Format is how the moment is written: unix_ms (default), unix or
	// rfc3339 (UTC, whole seconds; a moment is rounded down, so no change
	// is left out).
	Format string `yaml:"format"`
	// Updated is a jq program over one partner item (as the list gives it,
	// before read.item) giving its updated time: an RFC 3339 time (any
	// offset), or a number — seconds with format unix, else milliseconds.
	// Empty: the item's version as read.item maps it, for a profile whose
	// versions are time (required otherwise).
	Updated string `yaml:"updated"`
}

// compiledSince is an entity's Since, checked.
type compiledSince struct {
	param, format string
	updated       *gojq.Code // nil: the mapped item's version (versions: time)
}

// compileSince checks an entity's read.since: the read it belongs to is cr
// (compiled), versions the profile's.
func compileSince(s Since, cr *compiledRead, versions string) (*compiledSince, []problem) {
	var ps []problem
	cs := &compiledSince{param: s.Param, format: s.Format}
	if cs.format == "" {
		cs.format = SinceUnixMS
	}
	if !slices.Contains(sinceFormats, cs.format) {
		ps = append(ps, problem{"read.since.format", fmt.Sprintf("must be one of %s, is %q", strings.Join(sinceFormats, ", "), s.Format)})
	}
	switch {
	case s.Param == "":
		ps = append(ps, problem{"read.since.param", "required: the list's query parameter that carries the moment (e.g. updated_since)"})
	case cr.list != nil && cr.list.query[s.Param] != "":
		ps = append(ps, problem{"read.since.param", fmt.Sprintf("%q is already in read.list.query", s.Param)})
	case s.Param == cr.paging.Param || s.Param == cr.paging.SizeParam:
		ps = append(ps, problem{"read.since.param", fmt.Sprintf("%q is the paging's own parameter", s.Param)})
	}
	if s.Updated == "" {
		if versions != VersionsTime {
			ps = append(ps, problem{"read.since.updated", "required unless versions is time: a jq program over the partner's item giving its updated time (e.g. .updated_at)"})
		}
	} else {
		var err error
		if cs.updated, err = compileJQ(s.Updated); err != nil {
			ps = append(ps, problem{"read.since.updated", "jq: " + err.Error()})
		}
	}
	return cs, ps
}

// CanPoll reports whether entity's list can be asked for changes only: it
// has read.list and read.since (its own or the defaults').
func (p *Profile) CanPoll(entity string) bool {
	cr, err := p.read(entity)
	return err == nil && cr.since != nil
}

// ErrNoSince is returned for an entity whose read has no since section.
var ErrNoSince = errors.New("no read.since for this entity: its list cannot be asked for changes only")

// FormatSince writes t as entity's read.since.format says.
func (p *Profile) FormatSince(entity string, t time.Time) (string, error) {
	cr, err := p.read(entity)
	if err != nil {
		return "", err
	}
	if cr.since == nil {
		return "", fmt.Errorf("profile %s: %s: %w", p.Name, entity, ErrNoSince)
	}
	return formatSince(cr.since.format, t), nil
}

func formatSince(format string, t time.Time) string {
	switch format {
	case SinceUnix:
		return strconv.FormatInt(t.Unix(), 10)
	case SinceRFC3339:
		return t.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// Changed is one item of a list asked for changes: the item in our shape,
// its parent when read.item gives one ({parent: {entity, key}}), and the
// time the partner says it was last updated, in unix ms.
type Changed struct {
	Item
	ParentEntity, ParentKey string
	Updated                 int64
}

// ChangesPager starts the listing of entity's records changed since the
// moment since (read.since's parameter, written in its format; every
// account's). Its pages are read with ChangesPage.
func (p *Profile) ChangesPager(entity string, since time.Time) (*Pager, error) {
	pg, err := p.Pager(entity, "")
	if err != nil {
		return nil, err
	}
	if pg.cr.since == nil {
		return nil, fmt.Errorf("profile %s: %s: %w", p.Name, entity, ErrNoSince)
	}
	pg.since = formatSince(pg.cr.since.format, since)
	return pg, nil
}

// ChangesPage reads the answer (status 200) to the last Request of a
// ChangesPager as Page does, and gives the page's items with their updated
// times (soft-deleted ones included, Deleted set). An item whose updated
// time cannot be read is an error naming it.
func (pg *Pager) ChangesPage(header http.Header, body []byte) ([]Changed, error) {
	if pg.since == "" {
		return nil, errors.New("not a listing of changes (ChangesPager)")
	}
	pg.changed = pg.changed[:0]
	if _, err := pg.Page(header, body); err != nil {
		return nil, err
	}
	return slices.Clone(pg.changed), nil
}

// mapOne maps one raw item of a page; a listing of changes also reads its
// updated time and parent, from the same run of read.item.
func (pg *Pager) mapOne(raw any) (Item, error) {
	if pg.since == "" {
		return pg.cr.mapItem(pg.p.Versions(), raw)
	}
	it, pe, pk, err := pg.cr.mapItemParent(pg.p.Versions(), raw)
	if err != nil {
		return Item{}, err
	}
	c := Changed{Item: it, ParentEntity: pe, ParentKey: pk}
	if c.Updated, err = pg.cr.since.updatedOf(raw, it); err != nil {
		return Item{}, fmt.Errorf("read.since.updated of %s: %w", it.Key, err)
	}
	pg.changed = append(pg.changed, c)
	return it, nil
}

// updatedOf is an item's updated time in unix ms.
func (cs *compiledSince) updatedOf(raw any, it Item) (int64, error) {
	if cs.updated == nil {
		if it.Version <= 0 {
			return 0, errors.New("the item has no version (versions: time), so no updated time")
		}
		return it.Version, nil
	}
	v, ok, err := runOne(cs.updated, raw)
	if err != nil {
		return 0, err
	}
	if !ok || v == nil {
		return 0, errors.New("gave no time")
	}
	unit := int64(1)
	if cs.format == SinceUnix {
		unit = 1000
	}
	switch x := v.(type) {
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return 0, fmt.Errorf("%q is not an RFC 3339 time", x)
		}
		return t.UnixMilli(), nil
	case int:
		return int64(x) * unit, nil
	case float64:
		if x >= 0 && x < math.MaxInt64/1000 {
			return int64(x * float64(unit)), nil
		}
	}
	return 0, fmt.Errorf("gave %s, not a time", typeName(v))
}

// Position is where the listing stands: the next page's cursor, link,
// offset or number, as text to keep (Resume takes it back); "" when the
// list was read to its end or no page was read yet.
func (pg *Pager) Position() string {
	switch {
	case pg.done:
		return ""
	case pg.link != "":
		return "l:" + pg.link
	case pg.cr.paging.Kind == PagingCursor && pg.cursor != "":
		return "c:" + pg.cursor
	case pg.cr.paging.Kind == PagingOffset && pg.offset > 0:
		return "o:" + strconv.Itoa(pg.offset) + ":" + hex.EncodeToString(pg.lastSig[:])
	case pg.cr.paging.Kind == PagingPage && pg.page != pg.cr.paging.First:
		return "p:" + strconv.Itoa(pg.page) + ":" + hex.EncodeToString(pg.lastSig[:])
	}
	return ""
}

// Resume moves a fresh pager to a Position kept from an earlier one of
// the same entity and since; "" is the first page. A position of another
// paging kind, or a link to another origin than base_url's, is an error.
func (pg *Pager) Resume(pos string) error {
	if pos == "" {
		return nil
	}
	kind, val, _ := strings.Cut(pos, ":")
	bad := fmt.Errorf("position %q is not one of this list's (paging %s)", apiclient.RedactURL(pos), pg.cr.paging.Kind)
	switch {
	case kind == "l" && (pg.cr.paging.Kind == PagingNextLink || pg.cr.paging.Kind == PagingLinkHeader):
		u, err := apiclient.SameOrigin(pg.base, val)
		if err != nil {
			return fmt.Errorf("position: %w", err)
		}
		pg.link = u.String()
		pg.seen[pg.link] = true
	case kind == "c" && pg.cr.paging.Kind == PagingCursor && val != "":
		pg.cursor = val
		pg.seen[val] = true
	case (kind == "o" && pg.cr.paging.Kind == PagingOffset) || (kind == "p" && pg.cr.paging.Kind == PagingPage):
		n, sig, _ := strings.Cut(val, ":")
		i, err := strconv.Atoi(n)
		b, herr := hex.DecodeString(sig)
		if err != nil || i < 0 || herr != nil || len(b) != len(pg.lastSig) {
			return bad
		}
		copy(pg.lastSig[:], b)
		if kind == "o" {
			pg.offset = i
		} else {
			pg.page = i
		}
	default:
		return bad
	}
	return nil
}

// mapItemParent is mapItem, and the parent read.item gives the record
// ({entity, key}; both empty when it gives none).
func (cr *compiledRead) mapItemParent(versions string, raw any) (it Item, parentEntity, parentKey string, err error) {
	m, err := cr.runItem(raw)
	if err != nil {
		return Item{}, "", "", err
	}
	if it, err = itemOf(versions, m); err != nil {
		return Item{}, "", "", err
	}
	if par, ok := m["parent"].(map[string]any); ok {
		parentEntity, _ = itemText(par["entity"])
		parentKey, _ = itemText(par["key"])
		if (parentEntity == "") != (parentKey == "") {
			return Item{}, "", "", fmt.Errorf("read.item %s: parent needs both entity and key", it.Key)
		}
	}
	return it, parentEntity, parentKey, nil
}
