// Package source reads our side of the records (docs/reconcile.md): an HTTP read
// API speaking docs/partner-api.md's two read requests, a JSON Lines file (gzip when
// it ends in .gz), or none. Records are streamed page by page through an
// Iterator, never loaded whole, and one record can be read on its own (Get)
// for reconciliation's --recent checks and op=sync events.
package source
