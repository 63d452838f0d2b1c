package sql

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// A parameter is written in a query file as its default followed by a
// marker comment naming it, with nothing between them:
//
//	WHERE ts >= (now() - 3600)/*@since*/ AND (''/*@account*/ = '' OR …)
//
// The default is a parenthesised expression, a quoted string or a number.
// clickhouse-client runs the file as it is (the defaults apply);
// Parameterized swaps each default and marker for @name, which the Go
// driver binds on the client side (ClickHouse 18.16 has no server-side
// {name:Type} parameters).

// Param is one parameter of a query and its inline default.
type Param struct {
	Name    string // as in @name: since, stuck_seconds, account
	Default string // the SQL the file runs with, e.g. (now() - 3600)
}

var marker = regexp.MustCompile(`/\*@([a-z_]+)\*/`)

// Parameterized returns a query's text (database as in Query) with the
// default and marker of every parameter bind reports true for replaced by
// @name (a nil bind: every parameter), the others left at their defaults,
// and the parameters the query takes in order of first use. An error names
// a marker without a default or a parameter given two different defaults.
func Parameterized(name, database string, bind func(param string) bool) (string, []Param, error) {
	q, err := Query(name, database)
	if err != nil {
		return "", nil, err
	}
	type use struct {
		name       string
		start, end int // the default's first byte, the marker's end
	}
	var params []Param
	var uses []use
	for _, m := range marker.FindAllStringSubmatchIndex(q, -1) {
		pname := q[m[2]:m[3]]
		start, err := defaultStart(q, m[0])
		if err != nil {
			return "", nil, fmt.Errorf("sql/%s.sql: @%s: %w", name, pname, err)
		}
		def := q[start:m[0]]
		i := slices.IndexFunc(params, func(p Param) bool { return p.Name == pname })
		switch {
		case i < 0:
			params = append(params, Param{Name: pname, Default: def})
		case params[i].Default != def:
			return "", nil, fmt.Errorf("sql/%s.sql: @%s has two defaults: %s and %s", name, pname, params[i].Default, def)
		}
		uses = append(uses, use{pname, start, m[1]})
	}
	// A default may hold other parameters (a subquery's @since): bound, it
	// goes whole with them; left, they are bound inside it.
	slices.SortStableFunc(uses, func(a, b use) int { return a.start - b.start })
	var b strings.Builder
	last := 0
	for _, u := range uses {
		if u.start < last || (bind != nil && !bind(u.name)) {
			continue
		}
		b.WriteString(q[last:u.start])
		b.WriteString("@" + u.name)
		last = u.end
	}
	b.WriteString(q[last:])
	return b.String(), params, nil
}

// Params lists the parameters a query takes, with their defaults.
func Params(name string) ([]Param, error) {
	_, p, err := Parameterized(name, "streamsync", nil)
	return p, err
}

// defaultStart finds where the default that ends at end begins: the
// matching "(" of a closing ")", the opening quote of a string, or the
// first digit of a number.
func defaultStart(q string, end int) (int, error) {
	if end == 0 {
		return 0, fmt.Errorf("marker without a default before it")
	}
	switch c := q[end-1]; {
	case c == ')':
		depth := 0
		for i := end - 1; i >= 0; i-- {
			switch q[i] {
			case ')':
				depth++
			case '(':
				depth--
				if depth == 0 {
					return i, nil
				}
			}
		}
		return 0, fmt.Errorf("unbalanced parentheses before the marker")
	case c == '\'':
		for i := end - 2; i >= 0; i-- {
			if q[i] == '\'' && (i == 0 || q[i-1] != '\\') {
				return i, nil
			}
		}
		return 0, fmt.Errorf("unterminated string before the marker")
	case c >= '0' && c <= '9':
		i := end - 1
		for i > 0 && q[i-1] >= '0' && q[i-1] <= '9' {
			i--
		}
		return i, nil
	}
	return 0, fmt.Errorf("no default (a parenthesised expression, a string or a number) right before the marker")
}
