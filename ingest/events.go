package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/httpserve"
	"github.com/streamsync/streamsync/internal/replicas"
)

// maxReasons is how many rejected events a 400 answer names; "rejected"
// counts them all.
const maxReasons = 100

// Rejected is one event a request could not take.
type Rejected struct {
	Index  int    `json:"index"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// rejections keeps the first maxReasons rejected events of a request and
// counts them all.
type rejections struct {
	first []Rejected
	count int
}

func (r *rejections) add(x Rejected) {
	if len(r.first) < maxReasons {
		r.first = append(r.first, x)
	}
	r.count++
}

// handleEvents serves POST /v1/events and ?prepare=1 (docs/events.md, docs/producers.md): the
// body is read item by item, each validated as it comes (an item larger
// than event.Limits.MaxJSONBytes is refused without being parsed); a body over
// ingest.max_events items is answered 413 as soon as the next item starts,
// and a batch with invalid events 400 {"errors":[…at most 100],
// "rejected":N}. Only a wholly valid batch is appended (or prepared).
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	prepare := r.URL.Query().Get("prepare") == "1"
	if prepare && s.prepared == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"errors": []Rejected{{Index: -1, Reason: "prepared events are off"}}})
		return
	}
	producer := producerOf(r.Context())
	extra := producerFields(producer)
	now := s.cfg.Now()
	ms := now.UnixMilli()
	var events []event.Event
	var bad rejections
	n, err := eachItem(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), s.cfg.MaxEvents, func(i int, item json.RawMessage) {
		e, err := parseOne(item, s.cfg.Limits, ms, extra)
		var reasons []string
		if len(item) <= s.cfg.Limits.MaxJSONBytes() { // a larger one is refused unread
			reasons = reserved(item, e.Origin, s.cfg.PartnerNames)
		}
		if err != nil {
			reasons = append([]string{err.Error()}, reasons...)
		}
		if len(reasons) > 0 {
			bad.add(Rejected{Index: i, ID: clipID(e.ID), Reason: strings.Join(reasons, "; ")})
			events = nil // nothing of the batch is appended: keep none
			return
		}
		if bad.count == 0 {
			events = append(events, e)
		}
	})
	if err != nil {
		s.refuseBody(w, err, fmt.Sprintf("more than %d events in one request (ingest.max_events); send them in several", s.cfg.MaxEvents))
		return
	}
	if n == 0 {
		s.metrics.refused.WithLabelValues(refusedInvalid).Inc()
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []Rejected{{Index: -1, Reason: "no events in the body"}}})
		return
	}
	if bad.count > 0 {
		s.metrics.refused.WithLabelValues(refusedInvalid).Inc()
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": bad.first, "rejected": bad.count})
		return
	}
	if prepare {
		if err := s.prepared.Prepare(r.Context(), events, producer, now); err != nil {
			s.cfg.Logger.Log(r.Context(), replicas.Level(err), "ingest: prepare failed", "count", len(events), "producer", producer, "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"errors": []Rejected{{Index: -1, Reason: "events not prepared: " + err.Error()}}})
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]int{"prepared": len(events)})
		return
	}
	if err := appendRouted(r.Context(), s.rdb, s.stream, events, extra, s.cfg.Replicas); err != nil {
		s.cfg.Logger.Log(r.Context(), replicas.Level(err), "ingest: append failed", "count", len(events), "producer", producer, "err", err)
		if errors.Is(err, ErrNotReplicated) {
			w.Header().Set("Retry-After", "1") // resend: a copy ends skipped_stale at delivery (docs/reliability.md)
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"errors": []Rejected{{Index: -1, Reason: "events not appended: " + err.Error()}}})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"accepted": len(events)})
}

// clipID shortens an id that is too long to be valid, so that an answer
// naming rejected events stays small whatever they held.
func clipID(id string) string {
	if len(id) <= event.MaxIDBytes {
		return id
	}
	return id[:event.MaxIDBytes] + "…"
}

// refuseBody answers a body that could not be read whole: 413 over
// ingest.max_body_bytes or with too many items (tooMany says which bound),
// 408 when it came too slowly, 400 when it is not the JSON asked for.
func (s *Server) refuseBody(w http.ResponseWriter, err error, tooMany string) {
	status, reason, why := http.StatusBadRequest, refusedInvalid, err.Error()
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		status, reason, why = http.StatusRequestEntityTooLarge, refusedTooLarge, fmt.Sprintf("body over %d bytes (ingest.max_body_bytes)", s.cfg.MaxBodyBytes)
	case errors.Is(err, errTooMany):
		status, reason, why = http.StatusRequestEntityTooLarge, refusedTooManyEvents, tooMany
	case httpserve.IsTooSlow(err):
		status, reason, why = http.StatusRequestTimeout, refusedTooSlow, "the body came too slowly (docs/security.md)"
	case errors.Is(err, event.ErrNotJSON), errors.Is(err, errBadIDs):
	default:
		why = "reading the body: " + why
	}
	s.metrics.refused.WithLabelValues(reason).Inc()
	writeJSON(w, status, map[string]any{"errors": []Rejected{{Index: -1, Reason: why}}})
}

var writeJSON = httpserve.WriteJSON

// stream is where an account's events go.
func (s *Server) stream(account string) string {
	if s.cfg.Route != nil {
		return s.cfg.Route(account)
	}
	return s.cfg.Stream
}
