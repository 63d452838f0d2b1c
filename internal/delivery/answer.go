package delivery

import (
	"time"

	"github.com/streamsync/streamsync/internal/idmap"
)

// Class is what a partner answer means for the event.
type Class int

// The classes of docs/partner-api.md's answers.
const (
	// Delivered: 2xx, or 404 to a DELETE (already gone).
	Delivered Class = iota + 1
	// Stale: 409 stale_version; the partner has this version or a newer one.
	Stale
	// ParentMissing: 409 parent_missing; the child waits for its parent again.
	ParentMissing
	// Unauthorized: 401; the sink refreshes its token once and retries at once.
	Unauthorized
	// Transient: timeouts, connection errors, an answer cut short, 5xx, 408,
	// 425, 429, and answers that are not the partner's verdict on the
	// request (1xx, 407, 421, a status outside 100–599); retried with backoff.
	Transient
	// Permanent: 3xx (a redirect is never followed) and every other 4xx; the
	// event is dead-lettered as rejected.
	Permanent
	// Aborted: the caller's context ended (shutdown); the event stays pending.
	Aborted
	// AuthRefused: the token endpoint refused the client credentials (or
	// answered with something that is not a token); events wait, docs/events.md.
	AuthRefused
)

func (c Class) String() string {
	switch c {
	case Delivered:
		return "delivered"
	case Stale:
		return "stale"
	case ParentMissing:
		return "parent_missing"
	case Unauthorized:
		return "unauthorized"
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	case Aborted:
		return "aborted"
	case AuthRefused:
		return "auth_refused"
	}
	return "unknown"
}

// Answer is the partner's answer to one delivery of one event, classified:
// the answer to the last call, and how many calls counted as attempts.
type Answer struct {
	Class Class
	// RetryAfter is the answer's Retry-After (seconds or an HTTP date),
	// whatever its status; 0 when absent or unreadable.
	RetryAfter time.Duration
	Detail     string        // readable: status and the partner's error, or the transport error
	Status     int           // HTTP status of the last call; 0 when none
	Latency    time.Duration // of the last call
	// Calls is the number of partner calls that count as attempts: calls
	// made while the breaker was closed. Probes that fail, and calls whose
	// failure finds the breaker open, do not count, so an outage costs no
	// event its attempts.
	Calls int
	// IDMap is what the record's id map entry is to record when the event
	// is committed as delivered (a partner that assigns ids: the id its
	// create answered or a find found, or that the record is gone); set
	// by the sender only with Class Delivered.
	IDMap idmap.Write
}
