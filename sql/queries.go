// Package sql holds the analysts' queries over the attempt log, one file a
// question, and gives them to code with the configured database filled in.
package sql

import (
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
)

//go:embed *.sql
var files embed.FS

// Names lists the queries (file names without .sql).
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".sql"))
	}
	return out
}

// tableRef is a table the queries read, named streamsync.<table> in the
// files: the attempt log, the tables ClickHouse derives from it by
// materialized views (chain_ends, failures, calls, chain_minutes…) and the
// dead-letter archive.
var tableRef = regexp.MustCompile(`\bstreamsync\.([a-z_]+)\b`)

// Query returns a query's text as shipped, parameters at their inline
// defaults (see params.go), with every streamsync.<table> pointing at
// database.
func Query(name, database string) (string, error) {
	b, err := files.ReadFile(name + ".sql")
	if err != nil {
		return "", fmt.Errorf("no query %q (queries: %s)", name, strings.Join(Names(), ", "))
	}
	q := string(b)
	return tableRef.ReplaceAllString(q, "`"+strings.ReplaceAll(database, "$", "$$")+"`.$1"), nil
}

// Question is the opening comment of a query: what it answers.
func Question(name string) string {
	b, _ := files.ReadFile(name + ".sql")
	var q []string
	for _, line := range strings.Split(string(b), "\n") {
		t, ok := strings.CutPrefix(line, "-- ")
		if !ok {
			break
		}
		q = append(q, t)
	}
	return strings.Join(q, " ")
}
