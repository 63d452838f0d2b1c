package layout

import "strings"

// StatePattern is a SCAN MATCH pattern of every key of this key set's own
// state: "<prefix>:*" with the prefix's glob characters escaped. For a
// ForPartner key set it matches every key of that partner in the shard,
// both directions (docs/operations.md, "Removing a partner"), and nothing
// of the shard's or another partner's; for a shard's own key set it
// matches the other partners' keys too, so use it on ForPartner's only.
func (k Keys) StatePattern() string {
	return globEscaper.Replace(k.base) + ":*"
}

var globEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
