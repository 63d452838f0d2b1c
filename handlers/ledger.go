package handlers

import (
	"strconv"
	"strings"

	"github.com/streamsync/streamsync/event"
)

// Ledger is what the partner last got for one record, as the ledger hash
// keeps it: "version|content hash|deleted|event id" and, since the ledger
// keeps the account, "\x1f" and the account after the event id. Entries
// written before that have no account (Account ""), and still parse.
type Ledger struct {
	Found   bool
	Version int64
	Hash    string
	Deleted bool
	EventID string
	// Account is the record's account; "" in an entry written before the
	// ledger kept it.
	Account string
}

// accountSep parts the event id from the account. An event id holds no
// control character (it travels as a header, docs/events.md), so the first
// one in the last part is this separator, whatever the account holds.
const accountSep = "\x1f"

// ParseLedger reads a ledger value; an empty or unreadable one is not Found.
func ParseLedger(s string) Ledger {
	parts := strings.SplitN(s, "|", 4)
	if len(parts) != 4 {
		return Ledger{}
	}
	v, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return Ledger{}
	}
	id, account, _ := strings.Cut(parts[3], accountSep)
	return Ledger{Found: true, Version: v, Hash: parts[1], Deleted: parts[2] == "1", EventID: id, Account: account}
}

// String is the ledger value; the account goes last, so the ledger scripts
// that read the version, hash and deleted flag read it as before.
func (l Ledger) String() string {
	d := "0"
	if l.Deleted {
		d = "1"
	}
	s := strconv.FormatInt(l.Version, 10) + "|" + l.Hash + "|" + d + "|" + l.EventID
	if l.Account != "" {
		s += accountSep + l.Account
	}
	return s
}

// Present reports whether the ledger says the partner has the record.
func (l Ledger) Present() bool { return l.Found && !l.Deleted }

// LedgerOf is the ledger entry an event makes once the partner has it.
func LedgerOf(e event.Event) Ledger {
	return LedgerWithHash(e, ContentHash(e))
}

// LedgerWithHash is LedgerOf(e) for a caller that knows e's ContentHash.
func LedgerWithHash(e event.Event, hash string) Ledger {
	return Ledger{Found: true, Version: e.Version, Hash: hash, Deleted: e.Op == event.OpDelete, EventID: e.ID, Account: e.Account}
}

// ContentHash identifies a record's content: event.ContentHash of its data
// (SHA-256 hex of canonical JSON, docs/reconcile.md), the hash reconciliation
// compares with the partner's. A delete hashes to "-".
func ContentHash(e event.Event) string {
	if e.Op == event.OpDelete {
		return "-"
	}
	return event.ContentHash(e.Data)
}
