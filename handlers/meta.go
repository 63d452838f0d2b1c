package handlers

import (
	"strconv"
	"strings"

	"github.com/streamsync/streamsync/internal/proof"
)

// Stream fields streamsync adds to an entry it re-enters (after parking, a
// retry or a replay). They never reach the partner or a dead letter.
const (
	MetaPrefix      = "_ss_"
	MetaAttempts    = "_ss_attempts"
	MetaUnseenSince = "_ss_unseen"
	// MetaReplay marks a replayed dead letter. It is written for processes
	// of older versions during an upgrade; by itself it proves nothing (see
	// MetaProof).
	MetaReplay = "_ss_replay"
	// MetaProof holds streamsync's proof that it wrote the entry (package
	// internal/proof): a repair's or a replay's. Only a proof that verifies
	// lets an event skip the ledger's checks (docs/security.md).
	MetaProof       = proof.Field
	MetaSourceFails = "_ss_source_fails"
	// MetaTrace is the W3C traceparent of the span that parked the event or
	// scheduled its retry (package tracing); empty when tracing is off.
	MetaTrace = "_ss_trace"
	// MetaVanished is the one field of an entry streamsync appends in place
	// of one deleted from the events stream while pending (a producer's
	// XTRIM or XDEL): the deleted entry's id.
	MetaVanished = "_ss_vanished"
	// MetaFor names the one partner an entry is meant for: a retry, a
	// released child or a replay of that partner's, re-entered into the
	// events stream every partner reads (docs/partners.md, "Several
	// partners"). The other partners pass the entry by.
	MetaFor = "_ss_for"
	// MetaResolved marks an event that settles a conflict between the two
	// sides of a two-way partner (docs/partners.md, "Conflicts"): it is
	// delivered without another conflict check.
	MetaResolved = "_ss_resolved"
)

// Meta is what an event carries from one entry to the next.
type Meta struct {
	Attempts    int   // partner calls made so far
	UnseenSince int64 // unix ms since when the parent has not been seen; 0: not counting
	Replay      bool  // MetaReplay was set; proves nothing by itself
	// Proof is MetaProof as read, carried into the event's next entry.
	Proof string
	// Proven is what Proof proves, once the pipeline checked it against
	// streamsync's key: proof.Repair, proof.Replay, or proof.None. It is
	// never read from a field.
	Proven proof.Kind
	// SourceFails counts failed source reads of a sync event (docs/backfill.md),
	// apart from partner calls.
	SourceFails int
	Trace       string // traceparent of the span that parked the event, for the next pass
	// Resolved: MetaResolved was set; the event settles a conflict.
	Resolved bool
}

// MetaOf reads the meta fields of an entry.
func MetaOf(fields map[string]string) Meta {
	var m Meta
	m.Attempts = atoi(fields[MetaAttempts])
	if v := fields[MetaUnseenSince]; v != "" {
		m.UnseenSince, _ = strconv.ParseInt(v, 10, 64)
	}
	m.Replay = fields[MetaReplay] == "1"
	m.Proof = fields[MetaProof]
	m.SourceFails = atoi(fields[MetaSourceFails])
	m.Trace = fields[MetaTrace]
	m.Resolved = fields[MetaResolved] == "1"
	return m
}

// atoi is s as a number, 0 when absent or not one (without the error value
// strconv would allocate for the absent field of almost every entry).
func atoi(s string) int {
	if s == "" {
		return 0
	}
	n, _ := strconv.Atoi(s)
	return n
}

// Fields are the meta fields to add to a re-entered entry.
func (m Meta) Fields() []string {
	var f []string
	if m.Attempts > 0 {
		f = append(f, MetaAttempts, strconv.Itoa(m.Attempts))
	}
	if m.UnseenSince > 0 {
		f = append(f, MetaUnseenSince, strconv.FormatInt(m.UnseenSince, 10))
	}
	if m.Replay {
		f = append(f, MetaReplay, "1")
	}
	if m.Proof != "" {
		f = append(f, MetaProof, m.Proof)
	}
	if m.SourceFails > 0 {
		f = append(f, MetaSourceFails, strconv.Itoa(m.SourceFails))
	}
	if m.Trace != "" {
		f = append(f, MetaTrace, m.Trace)
	}
	if m.Resolved {
		f = append(f, MetaResolved, "1")
	}
	return f
}

// IsMeta reports whether a field name is streamsync's own.
func IsMeta(name string) bool { return strings.HasPrefix(name, MetaPrefix) }

// State is where a record's latest event waits in the pipeline, as the
// state hash keeps it: "parked:<event id>", "retry:<event id>" or
// "dead:<event id>"; empty when it waits nowhere.
type State string

// State kinds.
const (
	StateParked = "parked"
	StateRetry  = "retry"
	StateDead   = "dead"
)

// NewState builds a state value.
func NewState(kind, eventID string) State { return State(kind + ":" + eventID) }

// Kind is parked, retry, dead or empty.
func (s State) Kind() string {
	k, _, _ := strings.Cut(string(s), ":")
	return k
}

// EventID is the event the state is about.
func (s State) EventID() string {
	_, id, _ := strings.Cut(string(s), ":")
	return id
}
