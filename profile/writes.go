package profile

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/itchyny/gojq"
)

// Op is a request of an entity's section (docs/partners.md, "Writes").
type Op string

// The requests an entity may have: upsert (a partner keyed by our key), or
// create and update (a partner that assigns its own ids) with find (look a
// record up by our key before a create is retried); delete for either.
const (
	OpUpsert Op = "upsert"
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
	OpFind   Op = "find"
)

// IDs are the partner's ids of a record (Self) and of its parent (Parent);
// "" when the partner has none (or the sender does not know it).
type IDs struct{ Self, Parent string }

// AssignsIDs reports whether the partner assigns the ids of entity's
// records: its section (or the defaults') has create and update, not
// upsert. Its events then go through the id map (internal/idmap).
func (p *Profile) AssignsIDs(entity string) bool {
	c := p.entity(entity)
	return c != nil && c.create != nil
}

// FindAlways reports whether entity looks a record up (find, with
// always: true) before every create, not only before a retried one.
func (p *Profile) FindAlways(entity string) bool {
	c := p.entity(entity)
	return c != nil && c.find != nil && c.find.Always
}

// NeedsParentID reports whether some request of entity uses the partner's
// id of the record's parent ({parent.partner_id} in a path, query or
// header, or .parent.partner_id in a body): a child of it is not sent until
// its parent has a partner id.
func (p *Profile) NeedsParentID(entity string) bool {
	c := p.entity(entity)
	return c != nil && c.needsParent
}

// Versions is what the partner keeps of a record's version: "number",
// "time" or "none" (docs/partners.md, "Versions").
func (p *Profile) Versions() string {
	if p.VersionKind == "" {
		return VersionsNumber
	}
	return p.VersionKind
}

// Version kinds.
const (
	VersionsNumber = "number"
	VersionsTime   = "time"
	VersionsNone   = "none"
)

// Limits are the profile's limits: rate in requests per second (0: none),
// burst (Limits.Burst, default rate/10 and at least 1 when a rate is set;
// 0 without one), concurrency (0: none) and one request's timeout (0 when
// unset: sink.timeout applies).
func (p *Profile) Limits() (rate float64, burst, concurrency int, timeout time.Duration) {
	l := p.Limit
	rate, burst, concurrency = l.Rate, l.Burst, l.Concurrency
	if rate > 0 && burst == 0 {
		burst = max(1, int(math.Ceil(rate/10)))
	}
	if l.Timeout != "" {
		timeout, _ = time.ParseDuration(l.Timeout) // checked at parse
	}
	return rate, burst, concurrency, timeout
}

// CreatedID reads the partner's id of a record from an answer: for
// OpCreate, by the create's id program over the body or, with id_from:
// location, as the Location header's last path segment (path-unescaped);
// for OpFind, by the find's id program over the body. A string is the id
// as it is; a number its decimal text. found is false when there is no id
// (no result, null, "", no Location). err is for an answer that cannot be
// read (a body that is not JSON, an id that is an object, a failing
// program) or an op the entity has no such request for (ErrNoRequest).
func (p *Profile) CreatedID(entity string, op Op, h http.Header, body []byte) (id string, found bool, err error) {
	if op != OpCreate && op != OpFind {
		return "", false, fmt.Errorf("profile %s: %s: CreatedID is for create and find, not %s", p.Name, entity, op)
	}
	r := p.entity(entity).request(op)
	if r == nil {
		return "", false, fmt.Errorf("profile %s: %s %s: %w", p.Name, entity, op, ErrNoRequest)
	}
	if op == OpCreate && r.IDFrom == IDFromLocation {
		return locationID(h.Get("Location"))
	}
	id, found, err = jqID(r.id, body)
	if err != nil {
		return "", false, fmt.Errorf("profile %s: %s %s: id: %w", p.Name, entity, op, err)
	}
	return id, found, nil
}

// IDFromLocation is id_from's one value.
const IDFromLocation = "location"

// locationID is the last path segment of a Location header, unescaped.
func locationID(loc string) (string, bool, error) {
	if loc == "" {
		return "", false, nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", false, fmt.Errorf("Location %q: %w", loc, err)
	}
	segs := strings.Split(strings.TrimRight(u.EscapedPath(), "/"), "/")
	last := segs[len(segs)-1]
	id, err := url.PathUnescape(last)
	if err != nil {
		return "", false, fmt.Errorf("Location %q: %w", loc, err)
	}
	return id, id != "", nil
}

// jqID runs an id program over a JSON body.
func jqID(code *gojq.Code, body []byte) (string, bool, error) {
	if code == nil {
		return "", false, errors.New("no id program")
	}
	doc, err := parseJSON(body)
	if err != nil {
		return "", false, err
	}
	v, ok := code.Run(doc).Next()
	if !ok {
		return "", false, nil
	}
	if err, isErr := v.(error); isErr {
		return "", false, fmt.Errorf("jq: %w", err)
	}
	return idText(v)
}

// idText is an id from jq as text: a string, or a number's decimal text;
// null and "" are no id.
func idText(v any) (string, bool, error) {
	switch x := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return x, x != "", nil
	case int:
		return strconv.Itoa(x), true, nil
	case *big.Int:
		return x.String(), true, nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e21 {
			return strconv.FormatFloat(x, 'f', -1, 64), true, nil
		}
		return strconv.FormatFloat(x, 'g', -1, 64), true, nil
	}
	return "", false, fmt.Errorf("an id must be a string or a number, is %T", v)
}
