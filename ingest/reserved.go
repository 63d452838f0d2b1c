package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
)

// ProducerField is the entry field that names the producer an event came
// from through the ingest (its name in ingest.tokens). Only streamsync
// writes it: the ingest refuses it, like every reserved field, from
// producers.
const ProducerField = "ss_producer"

// reservedPrefixes start the names of entry fields only streamsync writes
// (docs/events.md): ss_ (the producer, the proof of an event streamsync
// wrote itself), _ss_ (what an event carries from one entry to the next,
// handlers.MetaPrefix) and dead_ (dead letters). The ingest refuses them in
// any case, as it refuses reserved origins.
var reservedPrefixes = []string{"ss_", handlers.MetaPrefix, "dead_"}

// streamsyncOrigins are the origins of events streamsync writes itself: a
// reconciliation repair (package reconcile's OriginReconcile) and a
// backfill (package backfill's Origin); both import this package.
var streamsyncOrigins = []string{"reconcile", "backfill"}

// reserved checks what the ingest refuses beyond the event contract
// (docs/security.md, "Ingest"): an origin streamsync or a partner writes
// (origins: partners' names), and a field only streamsync writes. It
// returns one reason a problem, each naming its field.
func reserved(item json.RawMessage, origin string, partners []string) []string {
	var out []string
	o := strings.TrimSpace(origin)
	switch {
	case o == "":
	case slices.ContainsFunc(streamsyncOrigins, func(r string) bool { return strings.EqualFold(r, o) }):
		out = append(out, fmt.Sprintf("origin: %q is reserved for events streamsync writes itself (repairs, backfill); name the system the change came from", clip(origin)))
	case slices.ContainsFunc(partners, func(p string) bool { return strings.EqualFold(p, o) }):
		out = append(out, fmt.Sprintf("origin: %q is a partner's name (sink.partner_name): a partner's changes do not come through the ingest; name the system the change came from", clip(origin)))
	}
	if f := reservedField(item); f != "" {
		out = append(out, fmt.Sprintf("%s: fields starting with ss_, _ss_ or dead_ (in any case) are streamsync's own and do not come through the ingest", clip(f)))
	}
	return out
}

// reservedField is the first reserved field name of a JSON object (in name
// order), empty when it has none. Names are matched in any case (SS_producer
// and Dead_Reason too), also when written with \u escapes; reading the
// names costs no allocation however many the object has (event.EachMember).
func reservedField(item json.RawMessage) string {
	found := ""
	_ = event.EachMember(item, func(name, _ []byte) bool {
		if isReserved(name) && (found == "" || string(name) < found) {
			found = string(name)
		}
		return true
	}) // not an object: reported as such by event.FromJSON
	return found
}

// isReserved says whether a field name starts with a reserved prefix, in
// any case.
func isReserved(name []byte) bool {
	for _, p := range reservedPrefixes {
		if len(name) >= len(p) && bytes.EqualFold(name[:len(p)], []byte(p)) {
			return true
		}
	}
	return false
}

// clip shortens a name quoted in a reason.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}
