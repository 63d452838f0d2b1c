// Package partnerread reads a partner's records through its profile
// (docs/partners.md, "Reads"): the lists and point reads reconciliation
// compares with ours, over HTTP, bounded, retried and authorised as the
// profile says.
package partnerread
