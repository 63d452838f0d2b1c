package profile

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

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
	failAll := func(ps []problem, at ...string) {
		for _, pr := range ps {
			fail(pr.reason, append(slices.Clone(at), strings.Split(pr.field, ".")...)...)
		}
	}
	u, err := url.Parse(p.BaseURL)
	if p.BaseURL == "" {
		fail("required", "base_url")
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fail(fmt.Sprintf("must be an absolute http(s) URL, is %q", p.BaseURL), "base_url")
	}
	switch p.VersionKind {
	case "", VersionsNumber, VersionsTime, VersionsNone:
	default:
		fail(fmt.Sprintf("must be none, number or time; is %q", p.VersionKind), "versions")
	}
	failAll(checkLimits(p.Limit), "limits")
	var aps []problem
	p.auth, aps = compileAuth(p.Auth)
	failAll(aps)
	var wps []problem
	p.webhooks, wps = compileWebhooks(p.Webhooks, p.auth.hmac)
	failAll(wps, "webhooks")

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
		c, ps := compileWrites(e, name != "*")
		failAll(ps, section...)
		var rps []problem
		c.read, c.compare, rps = compileRead(e)
		failAll(rps, section...)
		if c.read != nil && e.Read.Since != nil {
			c.read.since, rps = compileSince(*e.Read.Since, c.read, p.Versions())
			failAll(rps, section...)
		}
		if e.Bulk != nil {
			var bps []problem
			c.bulk, bps = compileBulk(*e.Bulk, e)
			failAll(bps, section...)
			if c.bulk.req != nil && usesParentID(c.bulk.req.Request) {
				c.needsParent = true
			}
		}
		own := e.Answers
		if name != "*" && p.Entities[name] != nil {
			own = p.Entities[name].Answers
		}
		rules, problems := compileRules(own, "answers")
		failAll(problems, section...)
		if name != "*" {
			// The defaults' rules come after the entity's own; their
			// problems are reported once, under defaults.
			defaults, _ := compileRules(p.Defaults.Answers, "answers")
			rules = append(rules, defaults...)
		}
		c.rules = rules
		p.checked[name] = c
	}
	return errs
}

// checkLimits checks a profile's limits; problems name the field.
func checkLimits(l Limits) []problem {
	var ps []problem
	if l.Rate < 0 {
		ps = append(ps, problem{"rate", fmt.Sprintf("must be 0 (no limit) or more requests per second, is %v", l.Rate)})
	}
	if l.Burst < 0 {
		ps = append(ps, problem{"burst", fmt.Sprintf("must be 0 (the default) or more, is %d", l.Burst)})
	}
	if l.Concurrency < 0 {
		ps = append(ps, problem{"concurrency", fmt.Sprintf("must be 0 (no limit) or more, is %d", l.Concurrency)})
	}
	if l.Timeout != "" {
		if d, err := time.ParseDuration(l.Timeout); err != nil || d <= 0 {
			ps = append(ps, problem{"timeout", fmt.Sprintf("must be a duration such as 10s, is %q", l.Timeout)})
		}
	}
	return ps
}

// compileWrites checks and compiles an entity's write requests (merged
// with the defaults). required: the entity receives events, so it needs a
// request for upserts and one for deletes (the defaults' "*" does not).
func compileWrites(e Entity, required bool) (*compiled, []problem) {
	var ps []problem
	fail := func(field, reason string) { ps = append(ps, problem{field, reason}) }
	c := &compiled{}
	assigns := e.Create != nil || e.Update != nil
	switch {
	case e.Upsert != nil && assigns:
		fail("upsert", "an entity has upsert (the partner is keyed by our key) or create and update (the partner assigns ids), not both")
	case e.Upsert == nil && !assigns && required:
		fail("upsert", "no request for upserts: give upsert, or create and update, here or in defaults")
	case assigns && e.Create == nil:
		fail("create", "required with update: the request that makes the record while the partner has no id for it")
	case assigns && e.Update == nil:
		fail("update", "required with create: the request that changes the record by its partner id ({partner_id})")
	}
	if e.Find != nil && !assigns {
		fail("find", "only for an entity whose partner assigns ids (create and update)")
	}
	for _, r := range []struct {
		name string
		r    *Request
	}{{"upsert", e.Upsert}, {"create", e.Create}, {"update", e.Update}, {"delete", e.Delete}} {
		if r.r != nil && r.r.Always {
			fail(r.name+".always", "only for find: look the record up before every create")
		}
	}
	if e.Delete == nil && required {
		fail("delete", "no request for this op, here or in defaults")
	}
	for _, op := range []struct {
		op  Op
		r   *Request
		dst **request
	}{{OpUpsert, e.Upsert, &c.upsert}, {OpCreate, e.Create, &c.create}, {OpUpdate, e.Update, &c.update}, {OpDelete, e.Delete, &c.delete}, {OpFind, e.Find, &c.find}} {
		if op.r == nil {
			continue
		}
		at := string(op.op) + "."
		r, rps := compile(*op.r, e)
		for _, p := range rps {
			fail(at+p.field, p.reason)
		}
		selfID := op.op == OpUpdate || (op.op == OpDelete && assigns)
		if !selfID {
			for _, f := range placeholderFields(r.Request, "partner_id") {
				fail(at+f, "{partner_id} is known only in update, and in delete and read.get of an entity whose partner assigns ids (create and update)")
			}
		}
		if op.op == OpUpdate && len(placeholderFields(r.Request, "partner_id")) == 0 && !selfIDRe.MatchString(r.Body) {
			fail("update", "must use the partner's id: {partner_id} in its path, query or headers, or .partner_id in its body")
		}
		switch op.op {
		case OpCreate:
			switch {
			case r.IDFrom != "" && r.IDFrom != IDFromLocation:
				fail(at+"id_from", fmt.Sprintf("must be %q (or give id, a jq program over the answer), is %q", IDFromLocation, r.IDFrom))
			case r.IDFrom != "" && r.ID != "":
				fail(at+"id", "id or id_from, not both")
			case r.IDFrom == "" && r.ID == "":
				fail(at+"id", "required: how the partner's id is read from the answer — id (a jq program over the body, e.g. .id) or id_from: location")
			}
		case OpFind:
			if r.ID == "" {
				fail(at+"id", "required: a jq program over the answer giving the found record's partner id (no result, null or \"\": not there)")
			}
			if r.IDFrom != "" {
				fail(at+"id_from", "find reads the id from its body with id")
			}
		default:
			if r.ID != "" || r.IDFrom != "" {
				fail(at+"id", "only create and find read an id")
			}
		}
		if r.ID != "" {
			code, err := compileJQ(r.ID)
			if err != nil {
				fail(at+"id", "jq: "+err.Error())
			}
			r.id = code
		}
		if usesParentID(r.Request) {
			c.needsParent = true
		}
		*op.dst = r
	}
	if e.Read != nil {
		// read.get may use {partner_id} (for an entity whose partner
		// assigns ids); a list never can.
		if g := e.Read.Get; g != nil && !assigns {
			for _, f := range placeholderFields(*g, "partner_id") {
				fail("read.get."+f, "{partner_id} is known only in read.get of an entity whose partner assigns ids (create and update)")
			}
		}
		if l := e.Read.List; l != nil {
			for _, f := range placeholderFields(*l, "partner_id") {
				fail("read.list."+f, "{partner_id} is not known in a list: it is one record's")
			}
		}
	}
	return c, ps
}

// selfIDRe finds .partner_id in a jq program (not .parent.partner_id).
var selfIDRe = regexp.MustCompile(`(^|[^A-Za-z0-9_.\]])\s*\.partner_id\b`)

// parentIDRe finds the parent's partner id in a jq program:
// .parent.partner_id, .parent?.partner_id, .parent["partner_id"],
// .parent | .partner_id.
var parentIDRe = regexp.MustCompile(`\.parent\s*\??\s*(\|\s*)?(\.\s*"?partner_id"?|\[\s*"partner_id"\s*\])`)

// usesParentID reports whether r uses the parent's partner id.
func usesParentID(r Request) bool {
	return len(placeholderFields(r, "parent.partner_id")) > 0 || parentIDRe.MatchString(r.Body)
}

// placeholderFields are the fields of r (path, query, headers) that hold
// {name}.
func placeholderFields(r Request, name string) []string {
	var out []string
	if hasPlaceholder(r.Path, name) {
		out = append(out, "path")
	}
	for _, k := range sortedKeys(r.Query) {
		if hasPlaceholder(r.Query[k], name) {
			out = append(out, "query")
			break
		}
	}
	for _, k := range sortedKeys(r.Headers) {
		if hasPlaceholder(r.Headers[k], name) {
			out = append(out, "headers")
			break
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// merge is the defaults with an entity's own settings over them. An
// entity's own kind of writes wins whole: its upsert drops the defaults'
// create, update and find; its create or update drops the defaults'
// upsert (and takes the defaults' create, update and find for what it
// does not give). delete, bulk and compare are the entity's when it gives
// them; read field by field.
func merge(d Entity, e *Entity) Entity {
	if e == nil {
		return d
	}
	out := d
	out.Headers = mergeMaps(d.Headers, e.Headers)
	out.Query = mergeMaps(d.Query, e.Query)
	switch {
	case e.Upsert != nil:
		// The entity's own create or update stay, to be reported.
		out.Upsert, out.Create, out.Update, out.Find = e.Upsert, e.Create, e.Update, nil
	case e.Create != nil || e.Update != nil:
		out.Upsert = nil
		out.Create = pick(e.Create, d.Create)
		out.Update = pick(e.Update, d.Update)
	}
	out.Find = pick(e.Find, out.Find)
	out.Delete = pick(e.Delete, d.Delete)
	out.Bulk = pick(e.Bulk, d.Bulk)
	out.Compare = pick(e.Compare, d.Compare)
	out.Read = mergeRead(d.Read, e.Read)
	out.Answers = append(append([]Rule(nil), e.Answers...), d.Answers...)
	return out
}

func pick[T any](own, def *T) *T {
	if own != nil {
		return own
	}
	return def
}

// mergeRead is the defaults' read with the entity's own fields over it.
func mergeRead(d, e *Read) *Read {
	if d == nil || e == nil {
		return pick(e, d)
	}
	out := *d
	out.Get = pick(e.Get, d.Get)
	out.List = pick(e.List, d.List)
	if e.Paging.Kind != "" {
		out.Paging = e.Paging
	}
	if e.Items != "" {
		out.Items = e.Items
	}
	if e.Item != "" {
		out.Item = e.Item
	}
	if e.GetItem != "" {
		out.GetItem = e.GetItem
	}
	if e.MaxPageBytes != 0 {
		out.MaxPageBytes = e.MaxPageBytes
	}
	out.Since = pick(e.Since, d.Since)
	return &out
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
	for _, k := range sortedKeys(r.Headers) {
		if err := checkPlaceholders(r.Headers[k]); err != nil {
			ps = append(ps, problem{"headers", k + ": " + err.Error()})
		}
	}
	for _, k := range sortedKeys(r.Query) {
		if err := checkPlaceholders(r.Query[k]); err != nil {
			ps = append(ps, problem{"query", k + ": " + err.Error()})
		}
	}
	out := &request{Request: r, needsData: strings.Contains(r.Path, "{data.")}
	for _, v := range r.Headers {
		out.needsData = out.needsData || strings.Contains(v, "{data.")
	}
	for _, v := range r.Query {
		out.needsData = out.needsData || strings.Contains(v, "{data.")
	}
	if r.Body != "" {
		q, err := gojq.Parse(r.Body)
		if err == nil {
			out.body, err = gojq.Compile(q)
		}
		if err == nil {
			out.tmpl, _ = compileTemplate(q)
		}
		if err != nil {
			ps = append(ps, problem{"body", "jq: " + err.Error()})
		}
	}
	return out, ps
}
