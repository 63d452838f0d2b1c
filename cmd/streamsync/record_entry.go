package main

import (
	"encoding/json"
	"fmt"
	"regexp"
)

// The commands that show and mend one record's entry of a per-shard hash
// (`streamsync ledger`, `streamsync idmap`) share their arguments and the
// shape of `get`'s answer.

var ledgerEntityRe = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// recordArgs reads `NAME get|set|drop ENTITY KEY` (example shows the
// command in use); the action is checked.
func recordArgs(e *env, name, example string) (action, entity, key string, err error) {
	if e.fs.NArg() != 3 {
		return "", "", "", fmt.Errorf("%s: want get, set or drop, an entity and a key, as in `%s`", name, example)
	}
	action, entity, key = e.fs.Arg(0), e.fs.Arg(1), e.fs.Arg(2)
	if !ledgerEntityRe.MatchString(entity) {
		return "", "", "", fmt.Errorf("%s: %q is not an entity name ([a-z0-9_-]{1,64}, docs/events.md)", name, entity)
	}
	switch action {
	case "get", "set", "drop":
		return action, entity, key, nil
	}
	return "", "", "", fmt.Errorf("%s: want get, set or drop, not %q", name, action)
}

// printFound prints `get`'s items as {"items":[…]} in JSON, or, for a table,
// the line that says no shard holds an entry (where names the hash when
// there is one shard); done is false when the caller prints the table.
func printFound[T any](e *env, items []T, shards int, account, where string) (done bool, err error) {
	if e.format == "json" {
		if items == nil {
			items = []T{}
		}
		return true, json.NewEncoder(e.out).Encode(map[string]any{"items": items})
	}
	if len(items) > 0 {
		return false, nil
	}
	switch {
	case account == "" && shards > 1:
		where = fmt.Sprintf("any of %d shards", shards)
	case shards > 1:
		where = "the account's shard"
	}
	_, err = fmt.Fprintf(e.out, "no entry in %s\n", where)
	return true, err
}
