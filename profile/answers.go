package profile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/itchyny/gojq"
	"github.com/streamsync/streamsync/internal/delivery"
)

// Rule turns a partner's answer into an outcome: the first rule whose When
// matches decides (an entity's own rules before the defaults'); an answer
// no rule matches means what the built-in partner API's would
// (docs/partner-api.md).
type Rule struct {
	When Match `yaml:"when"`
	// Then is the outcome: delivered, stale, parent_missing, transient,
	// permanent, auth_refused, or not_found (the partner has no record of
	// the id the request named: an update makes the record again with the
	// create, a delete is done).
	Then string `yaml:"then"`
	// Detail is a jq program over the answer's body whose result (a
	// string) is the readable error kept in the attempt log and dead
	// letters; empty: the status and the body's start.
	Detail string `yaml:"detail"`
	// Wait says how long a transient outcome waits before the retry: a
	// header holding seconds or an HTTP date, or a jq program over the body
	// giving seconds. Empty: Retry-After, else the backoff.
	Wait Wait `yaml:"wait"`
}

// Match is a rule's condition; every part given must hold.
type Match struct {
	// Status is "409", or a class such as "2xx"; empty matches any.
	Status string `yaml:"status"`
	// Header names a header that must be present, Value (optional) its
	// value.
	Header string `yaml:"header"`
	Value  string `yaml:"value"`
	// Body is a jq program over the answer's JSON body that must give true.
	// An answer whose body is not JSON does not match.
	Body string `yaml:"body"`
}

// Wait is where a transient outcome's wait comes from.
//
// Unit says what the number read means: "seconds" (the default: a delay,
// as Retry-After; a header may also hold an HTTP date), "unix" or
// "unix_ms" (the moment the wait ends, as many X-RateLimit-Reset headers
// give it).
type Wait struct {
	Header string `yaml:"header"`
	Body   string `yaml:"body"`
	Unit   string `yaml:"unit"`
}

// waitUnits are Wait.Unit's values.
var waitUnits = []string{"", "seconds", "unix", "unix_ms"}

var outcomes = map[string]delivery.Class{
	"delivered": delivery.Delivered, "stale": delivery.Stale, "parent_missing": delivery.ParentMissing,
	"transient": delivery.Transient, "permanent": delivery.Permanent, "auth_refused": delivery.AuthRefused,
}

var statusRe = regexp.MustCompile(`^([1-5][0-9][0-9]|[1-5]xx)$`)

type rule struct {
	Rule
	class             delivery.Class
	notFound          bool
	body, detail, due *gojq.Code
}

// compileRules checks rules; problems name the rule by its index.
func compileRules(rs []Rule, field string) ([]rule, []problem) {
	var out []rule
	var ps []problem
	for i, r := range rs {
		at := fmt.Sprintf("%s[%d]", field, i)
		c, ok := outcomes[r.Then]
		notFound := r.Then == "not_found"
		if notFound {
			c, ok = delivery.Permanent, true
		}
		if !ok {
			ps = append(ps, problem{at + ".then", fmt.Sprintf("must be one of delivered, stale, parent_missing, transient, permanent, auth_refused, not_found; is %q", r.Then)})
		}
		if r.When.Status != "" && !statusRe.MatchString(strings.ToLower(r.When.Status)) {
			ps = append(ps, problem{at + ".when.status", fmt.Sprintf("must be a status (409) or a class (2xx), is %q", r.When.Status)})
		}
		if r.When.Status == "" && r.When.Header == "" && r.When.Body == "" {
			ps = append(ps, problem{at + ".when", "needs a status, a header or a body condition"})
		}
		if r.Wait.Header != "" && r.Wait.Body != "" {
			ps = append(ps, problem{at + ".wait", "a header or a body, not both"})
		}
		if !slices.Contains(waitUnits, r.Wait.Unit) {
			ps = append(ps, problem{at + ".wait.unit", fmt.Sprintf("must be seconds, unix or unix_ms, is %q", r.Wait.Unit)})
		}
		cr := rule{Rule: r, class: c, notFound: notFound}
		for _, p := range []struct {
			src, name string
			dst       **gojq.Code
		}{{r.When.Body, ".when.body", &cr.body}, {r.Detail, ".detail", &cr.detail}, {r.Wait.Body, ".wait.body", &cr.due}} {
			if p.src == "" {
				continue
			}
			code, err := compileJQ(p.src)
			if err != nil {
				ps = append(ps, problem{at + p.name, "jq: " + err.Error()})
			}
			*p.dst = code
		}
		out = append(out, cr)
	}
	return out, ps
}

func compileJQ(src string) (*gojq.Code, error) {
	q, err := gojq.Parse(src)
	if err != nil {
		return nil, err
	}
	return gojq.Compile(q)
}

// Verdict is what the rules made of an answer.
type Verdict struct {
	Class delivery.Class
	// NotFound: the rule's outcome is not_found — the partner has no
	// record of the id the request named (Class is Permanent): an update
	// makes the record again with its create, a delete is done.
	NotFound bool
	Wait     time.Duration // for a transient outcome; 0: Retry-After or the backoff
	Detail   string
}

// Judge applies the rules of entity to an answer (status, headers, body —
// at most what was read of it). ok is false when no rule matched: the
// built-in meaning of the status applies.
func (p *Profile) Judge(entity string, status int, h http.Header, body []byte, now time.Time) (v Verdict, ok bool) {
	c, found := p.checked[entity]
	if !found {
		c = p.checked["*"]
	}
	var doc any
	parsed := false
	parse := func() bool {
		if !parsed {
			parsed = true
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			var x any
			if dec.Decode(&x) == nil {
				doc = normalize(x)
			}
		}
		return doc != nil
	}
	for _, r := range c.rules {
		if !statusMatches(r.When.Status, status) {
			continue
		}
		if r.When.Status == "" && r.class != delivery.Transient && retriedStatus(status) {
			// a rule that names no status never makes an outage's answer
			// (503 {"code":50300}) a dead letter (docs/partners.md, "Answers")
			continue
		}
		if r.When.Header != "" {
			got, present := h[http.CanonicalHeaderKey(r.When.Header)]
			if !present || (r.When.Value != "" && (len(got) == 0 || got[0] != r.When.Value)) {
				continue
			}
		}
		if r.body != nil {
			if !parse() {
				continue
			}
			if res, _ := first(r.body, doc); res != true {
				continue
			}
		}
		v = Verdict{Class: r.class, NotFound: r.notFound, Detail: fmt.Sprintf("%d", status)}
		if r.detail != nil && parse() {
			if s, ok := first(r.detail, doc); ok {
				if str, isStr := s.(string); isStr {
					v.Detail = fmt.Sprintf("%d %s", status, str)
				}
			}
		}
		if r.class == delivery.Transient {
			v.Wait = wait(r, h, doc, parse, now)
		}
		return v, true
	}
	return Verdict{}, false
}

// retriedStatus is a status the built-in meaning retries: 408, 425, 429,
// 5xx (docs/partner-api.md).
func retriedStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooEarly || status == http.StatusTooManyRequests || status >= 500
}

func statusMatches(pattern string, status int) bool {
	switch {
	case pattern == "":
		return true
	case strings.HasSuffix(strings.ToLower(pattern), "xx"):
		return status/100 == int(pattern[0]-'0')
	}
	return pattern == strconv.Itoa(status)
}

// first is the first result of code over in; ok is false for none or an
// error.
func first(code *gojq.Code, in any) (any, bool) {
	v, ok := code.Run(in).Next()
	if !ok {
		return nil, false
	}
	if _, isErr := v.(error); isErr {
		return nil, false
	}
	return v, true
}

// wait reads a transient outcome's wait from the header or body a rule
// names: seconds, or (a header) an HTTP date.
func wait(r rule, h http.Header, doc any, parse func() bool, now time.Time) time.Duration {
	if r.Wait.Header != "" {
		s := strings.TrimSpace(h.Get(r.Wait.Header))
		if n, err := strconv.ParseFloat(s, 64); err == nil {
			return waitFor(n, r.Wait.Unit, now)
		}
		if t, err := http.ParseTime(s); err == nil && t.After(now) {
			return t.Sub(now)
		}
		return 0
	}
	if r.due != nil && parse() {
		switch n := mustFirst(r.due, doc).(type) {
		case int:
			return waitFor(float64(n), r.Wait.Unit, now)
		case float64:
			return waitFor(n, r.Wait.Unit, now)
		}
	}
	return 0
}

// waitFor is the wait a number read in unit means at now; 0 for none.
func waitFor(n float64, unit string, now time.Time) time.Duration {
	var d time.Duration
	switch unit {
	case "unix":
		d = time.Unix(0, int64(n*1e9)).Sub(now)
	case "unix_ms":
		d = time.UnixMilli(int64(n)).Sub(now)
	default:
		d = time.Duration(n * float64(time.Second))
	}
	return max(d, 0)
}

func mustFirst(code *gojq.Code, in any) any {
	v, _ := first(code, in)
	return v
}
