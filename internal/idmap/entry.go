package idmap

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind is what an id map entry says of a record.
type Kind string

const (
	// KindID: the partner has the record under Entry.ID ("i|<id>").
	KindID Kind = "id"
	// KindCreating: a create was sent and is not committed yet; other
	// events of the record wait until Entry.Until
	// ("c|<until unix ms>|<version>|<event id>").
	KindCreating Kind = "creating"
	// KindGone: the record is deleted at the partner as of Entry.Version,
	// or a delete found nothing to delete ("g|<version>").
	KindGone Kind = "gone"
)

// Entry is one record's id map entry, read from its stored value.
type Entry struct {
	Kind    Kind      `json:"kind"`
	ID      string    `json:"partner_id,omitempty"` // KindID
	Until   time.Time `json:"until,omitzero"`       // KindCreating: when the hold ends
	Version int64     `json:"version,omitempty"`    // KindCreating, KindGone
	EventID string    `json:"event_id,omitempty"`   // KindCreating: the event whose create was sent
}

// ErrUnreadable is returned for a stored value that is none of the three
// forms (docs/operations.md, "The id map": mend it with `streamsync idmap`).
var ErrUnreadable = errors.New("unreadable id map entry")

// Parse reads a stored value: "i|<partner id>", "c|<until unix
// ms>|<version>|<event id>" or "g|<version>". The partner id and the event
// id are the rest of the value, '|' included.
func Parse(v string) (Entry, error) {
	kind, rest, ok := strings.Cut(v, "|")
	bad := fmt.Errorf("%w: %q", ErrUnreadable, v)
	if !ok {
		return Entry{}, bad
	}
	switch kind {
	case "i":
		if rest == "" {
			return Entry{}, bad
		}
		return Entry{Kind: KindID, ID: rest}, nil
	case "g":
		ver, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || ver < 0 {
			return Entry{}, bad
		}
		return Entry{Kind: KindGone, Version: ver}, nil
	case "c":
		parts := strings.SplitN(rest, "|", 3)
		if len(parts) != 3 {
			return Entry{}, bad
		}
		until, err1 := strconv.ParseInt(parts[0], 10, 64)
		ver, err2 := strconv.ParseInt(parts[1], 10, 64)
		if err1 != nil || err2 != nil || until < 0 || ver < 0 {
			return Entry{}, bad
		}
		return Entry{Kind: KindCreating, Until: time.UnixMilli(until).UTC(), Version: ver, EventID: parts[2]}, nil
	}
	return Entry{}, bad
}

// IDValue is the stored value of a record the partner has under id.
func IDValue(id string) string { return "i|" + id }
