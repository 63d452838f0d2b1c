package profile

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/itchyny/gojq"
)

var methods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// check compiles every request of the profile, each entity's merged with
// the defaults, and returns one *Error a problem.
func (p *Profile) check(line func(path ...string) int) []error {
	var errs []error
	fail := func(reason string, path ...string) {
		errs = append(errs, &Error{Profile: p.Name, Path: strings.Join(path, "."), Line: line(path...), Reason: reason})
	}
	u, err := url.Parse(p.BaseURL)
	if p.BaseURL == "" {
		fail("required", "base_url")
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fail(fmt.Sprintf("must be an absolute http(s) URL, is %q", p.BaseURL), "base_url")
	}
	p.checked = map[string]*compiled{}
	names := []string{"*"}
	for name := range p.Entities {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		e, section := p.Defaults, []string{"defaults"}
		if name != "*" {
			e, section = merge(p.Defaults, p.Entities[name]), []string{"entities", name}
		}
		c := &compiled{}
		for _, op := range []struct {
			name string
			r    *Request
			dst  **request
		}{{"upsert", e.Upsert, &c.upsert}, {"delete", e.Delete, &c.delete}} {
			at := append(slices.Clone(section), op.name)
			if op.r == nil {
				if name != "*" {
					fail("no request for this op, here or in defaults", at...)
				}
				continue
			}
			r, problems := compile(*op.r, e)
			for _, pr := range problems {
				fail(pr.reason, append(at, pr.field)...)
			}
			*op.dst = r
		}
		own := e.Answers
		if name != "*" && p.Entities[name] != nil {
			own = p.Entities[name].Answers
		}
		rules, problems := compileRules(own, "answers")
		for _, pr := range problems {
			fail(pr.reason, append(slices.Clone(section), strings.Split(pr.field, ".")...)...)
		}
		if name != "*" {
			// The defaults' rules come after the entity's own; their
			// problems are reported once, under defaults.
			defaults, _ := compileRules(p.Defaults.Answers, "answers")
			rules = append(rules, defaults...)
		}
		c.rules = rules
		var rps []problem
		c.read, c.compare, rps = compileRead(e)
		for _, pr := range rps {
			fail(pr.reason, append(slices.Clone(section), strings.Split(pr.field, ".")...)...)
		}
		p.checked[name] = c
	}
	return errs
}

// merge is the defaults with an entity's own settings over them.
func merge(d Entity, e *Entity) Entity {
	if e == nil {
		return d
	}
	out := d
	out.Headers = mergeMaps(d.Headers, e.Headers)
	out.Query = mergeMaps(d.Query, e.Query)
	if e.Upsert != nil {
		out.Upsert = e.Upsert
	}
	if e.Delete != nil {
		out.Delete = e.Delete
	}
	if e.Read != nil {
		out.Read = e.Read
	}
	if e.Compare != nil {
		out.Compare = e.Compare
	}
	out.Answers = append(append([]Rule(nil), e.Answers...), d.Answers...)
	return out
}

func mergeMaps(a, b map[string]string) map[string]string {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

type problem struct{ field, reason string }

// compile checks one request and compiles its body; the entity's headers
// and query are folded in (the request's own win).
func compile(r Request, e Entity) (*request, []problem) {
	var ps []problem
	r.Method = strings.ToUpper(r.Method)
	if !slices.Contains(methods, r.Method) {
		ps = append(ps, problem{"method", fmt.Sprintf("must be one of %s, is %q", strings.Join(methods, ", "), r.Method)})
	}
	if !strings.HasPrefix(r.Path, "/") {
		ps = append(ps, problem{"path", fmt.Sprintf("must start with /, is %q", r.Path)})
	} else if err := checkPlaceholders(r.Path); err != nil {
		ps = append(ps, problem{"path", err.Error()})
	}
	r.Headers = mergeMaps(e.Headers, r.Headers)
	r.Query = mergeMaps(e.Query, r.Query)
	for k, v := range r.Headers {
		if err := checkPlaceholders(v); err != nil {
			ps = append(ps, problem{"headers", k + ": " + err.Error()})
		}
	}
	for k, v := range r.Query {
		if err := checkPlaceholders(v); err != nil {
			ps = append(ps, problem{"query", k + ": " + err.Error()})
		}
	}
	out := &request{Request: r}
	if r.Body != "" {
		q, err := gojq.Parse(r.Body)
		if err == nil {
			out.body, err = gojq.Compile(q)
		}
		if err != nil {
			ps = append(ps, problem{"body", "jq: " + err.Error()})
		}
	}
	return out, ps
}
