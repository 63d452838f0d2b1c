package inbound

import (
	"context"
	"encoding/json"
)

// Change is one record as a partner reported it, already in our shape (the
// profile's read.item program made it): the entity, our key, the account,
// the partner's version of it (unix ms for a profile whose versions are
// times; 0 when the partner keeps none), its data (a JSON object; nil when
// Deleted) and whether the partner holds it as deleted.
type Change struct {
	Entity  string
	Key     string
	Account string
	Version int64
	Data    json.RawMessage
	Deleted bool
	// ParentEntity and ParentKey name the record's parent when the
	// profile's mapping gives one; both empty otherwise.
	ParentEntity string
	ParentKey    string
}

// Via says how a change reached streamsync, for event ids and attempt rows.
type Via string

// The two ways a partner's change arrives.
const (
	ViaWebhook Via = "webhook"
	ViaPoll    Via = "poll"
)

// Appender appends a partner's changes to that partner's inbound stream,
// one event each, in the order given. ref identifies the delivery they came
// in (a webhook's webhook-id, a poll's run and page) and makes the events'
// ids: the same ref and changes give the same ids, so a change appended
// twice is skipped as a duplicate by the ledger. It returns only once Redis
// has every event, or an error when it has not got them all (the caller
// answers the partner with an error, so the partner sends them again).
type Appender interface {
	Append(ctx context.Context, partner string, via Via, ref string, changes []Change) error
}
