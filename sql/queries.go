// Package sql holds the analysts' queries over the attempt log, one file a
// question, and gives them to code with the configured database filled in.
package sql

import (
	"embed"
	"fmt"
	"io/fs"
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

// tables are the tables the queries read, named streamsync.<table> in the
// files: the attempt log, the tables a materialized view derives from it
// (chain_ends, chain_index, chain_children: sinks/attemptlog's
// DerivedTables) and the dead-letter archive.
var tables = []string{"attempts", "chain_ends", "chain_index", "chain_children", "dead_letters"}

// Query returns a query's text as shipped, parameters at their inline
// defaults (see params.go), with streamsync.<table> of each of tables
// pointing at database.
func Query(name, database string) (string, error) {
	b, err := files.ReadFile(name + ".sql")
	if err != nil {
		return "", fmt.Errorf("no query %q (queries: %s)", name, strings.Join(Names(), ", "))
	}
	q := string(b)
	for _, t := range tables {
		q = strings.ReplaceAll(q, "streamsync."+t, "`"+database+"`."+t)
	}
	return q, nil
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
