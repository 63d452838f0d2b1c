// Package proof lets streamsync mark the entries it writes itself so that
// nobody else can: an HMAC-SHA256 over an entry's identifying fields under a
// key only streamsync processes read (docs/security.md, "What only
// streamsync may write"). The pipeline lets an entry skip the ledger's checks
// only when its proof verifies; `origin` alone proves nothing.
package proof
