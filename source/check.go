package source

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/apiclient"
)

var entityRe = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

func validEntity(s string) bool { return entityRe.MatchString(s) }

func absURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an absolute http(s) URL, is %q", apiclient.RedactURL(s))
	}
	return nil
}

// check applies docs/events.md's rules for account, entity, key, version, data
// and parent to a record (the same rules as an upsert event's).
func check(r Record) error {
	if r.Entity == "" || r.Key == "" || r.Account == "" {
		return errors.New("entity, key and account are required")
	}
	if r.Version <= 0 {
		return fmt.Errorf("version must be a whole number greater than 0, is %d", r.Version)
	}
	// A record may be named "." or "..": it is ours, and reconciliation
	// reports it. Only an event cannot carry such a key to the partner
	// (docs/field-values.md), so the record is checked as if named "k".
	e := event.Event{ID: "source-record", Op: event.OpUpsert, Account: r.Account, Entity: r.Entity, Key: undot(r.Key),
		Version: r.Version, Data: r.Data}
	if r.Parent != nil {
		e.ParentEntity, e.ParentKey = r.Parent.Entity, undot(r.Parent.Key)
		if r.Parent.Entity == "" || r.Parent.Key == "" {
			return errors.New("parent needs both entity and key")
		}
	}
	return event.Validate(e)
}

func undot(key string) string {
	if event.IsDotSegment(key) {
		return "k"
	}
	return key
}
