package event

import "encoding/json"

// Op is what a change does to its record.
type Op string

// The operations an event may carry.
const (
	OpUpsert Op = "upsert"
	OpDelete Op = "delete"
	// OpSync is a trigger-query event: it names a record and carries no
	// version or data; the record's current state is read from the source
	// when the event is delivered (docs/backfill.md).
	OpSync Op = "sync"
)

// Stream field names, as producers XADD them.
const (
	FieldID           = "id"
	FieldAccount      = "account"
	FieldEntity       = "entity"
	FieldKey          = "key"
	FieldOp           = "op"
	FieldVersion      = "version"
	FieldParentEntity = "parent_entity"
	FieldParentKey    = "parent_key"
	FieldOrigin       = "origin"
	FieldData         = "data"
	FieldTS           = "ts"
	FieldTraceParent  = "traceparent"
	// FieldProof holds streamsync's proof that it wrote the entry itself
	// (package internal/proof). It is one of streamsync's own fields
	// (prefix "_ss_"): never read from ingest JSON, never parsed into an
	// Event, never sent to the partner.
	FieldProof = "_ss_proof"
)

// Limits of docs/events.md.
const (
	MaxIDBytes       = 128
	MaxEntityBytes   = 64
	MaxKeyBytes      = 256
	DefaultMaxBytes  = 1 << 20
	maxAccountBytes  = 256
	maxOriginBytes   = 256
	maxTraceParentSz = 512
)

// Event is one change of one record.
type Event struct {
	ID           string
	Account      string
	Entity       string
	Key          string
	Op           Op
	Version      int64
	ParentEntity string // empty when the record has no parent
	ParentKey    string
	Origin       string
	Data         json.RawMessage // a JSON object for an upsert; nil for a delete without data
	TS           int64           // producer time in unix ms; 0 when absent
	TraceParent  string
	// IdempotencyKey is sent as the Idempotency-Key header when set; empty
	// means ID. It is never a stream field: a sync delivery sets it to
	// "<id>:<version sent>" (docs/backfill.md).
	IdempotencyKey string
	// SendVersion, when set, is the version sent in place of Version: a
	// two-way partner's record written over the other side's higher one
	// (docs/partners.md, "Two-way sync"). It is never a stream field; the
	// ledger keeps Version.
	SendVersion int64
	// Proof is appended as the field FieldProof when set: streamsync's own
	// proof (a repair's), set by streamsync just before appending. Parsing
	// never fills it in; the pipeline reads the field with the entry's
	// other fields of its own.
	Proof string
}

// IdemKey is the Idempotency-Key the partner sees for the event: its
// IdempotencyKey when set, else its ID (docs/partner-api.md).
func (e Event) IdemKey() string {
	if e.IdempotencyKey != "" {
		return e.IdempotencyKey
	}
	return e.ID
}

// HasParent reports whether the event names a parent record.
func (e Event) HasParent() bool { return e.ParentEntity != "" }

// Fields returns the event as stream fields, in a fixed order, ready for
// XADD; optional fields are left out when empty.
func (e Event) Fields() []any {
	f := make([]any, 0, 24)
	f = append(f, FieldID, e.ID, FieldAccount, e.Account, FieldEntity, e.Entity, FieldKey, e.Key,
		FieldOp, string(e.Op))
	if e.Version != 0 || e.Op != OpSync { // a sync event needs no version
		f = append(f, FieldVersion, itoa(e.Version))
	}
	if e.HasParent() {
		f = append(f, FieldParentEntity, e.ParentEntity, FieldParentKey, e.ParentKey)
	}
	if e.Origin != "" {
		f = append(f, FieldOrigin, e.Origin)
	}
	if len(e.Data) > 0 {
		f = append(f, FieldData, string(e.Data))
	}
	if e.TS != 0 {
		f = append(f, FieldTS, itoa(e.TS))
	}
	if e.TraceParent != "" {
		f = append(f, FieldTraceParent, e.TraceParent)
	}
	if e.Proof != "" {
		f = append(f, FieldProof, e.Proof)
	}
	return f
}
