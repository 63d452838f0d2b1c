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

// Query returns a query's text as shipped, parameters at their inline
// defaults (see params.go), with streamsync.attempts pointing at database.
func Query(name, database string) (string, error) {
	b, err := files.ReadFile(name + ".sql")
	if err != nil {
		return "", fmt.Errorf("no query %q (queries: %s)", name, strings.Join(Names(), ", "))
	}
	return strings.ReplaceAll(string(b), "streamsync.attempts", "`"+database+"`.attempts"), nil
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
