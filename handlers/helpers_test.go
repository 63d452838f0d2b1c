package handlers

import (
	"encoding/json"
	"time"

	"github.com/streamsync/streamsync/event"
)

var now = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

func upsert(id string, version int64, data string) event.Event {
	return event.Event{ID: id, Account: "a", Entity: "sub", Key: "k", Op: event.OpUpsert, Version: version, Data: json.RawMessage(data)}
}

// repair is an upsert with origin=reconcile, as reconciliation appends it.
func repair(version int64, data string) event.Event {
	e := upsert("rc-1-1", version, data)
	e.Origin = "reconcile"
	return e
}

func child(id string) event.Event {
	e := upsert(id, 5, `{}`)
	e.ParentEntity, e.ParentKey = "main", "m"
	return e
}
