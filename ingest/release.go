package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/replicas"
)

// handleRelease serves POST /v1/events/confirm and /v1/events/cancel
// (docs/producers.md): body {"ids":[…]}, at most ingest.max_events ids (more:
// 413), answer 200 {"<done>":N,"unknown":[…]}, unknown naming the ids that
// the requesting producer has not prepared (never, released already — a
// confirm after the check-back released an event is harmless — or prepared
// by another producer, whose events stay as they are).
func (s *Server) handleRelease(action, done string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ids, err := decodeIDs(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), s.cfg.MaxEvents)
		if err != nil {
			s.refuseBody(w, err, fmt.Sprintf("more than %d ids in one request (ingest.max_events)", s.cfg.MaxEvents))
			return
		}
		producer := producerOf(r.Context())
		// An id with a NUL byte is no event's, and must not reach another
		// producer's (PreparedField).
		var named, unknown []string
		for _, id := range ids {
			if strings.ContainsRune(id, 0) {
				unknown = append(unknown, id)
			} else {
				named = append(named, id)
			}
		}
		n, more, err := s.prepared.ReleaseMany(r.Context(), named, action, producer, s.cfg.Now())
		unknown = append(unknown, more...)
		if err != nil {
			s.cfg.Logger.Log(r.Context(), replicas.Level(err), "ingest: release failed", "action", action, "producer", producer, "released", n, "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{done: n, "errors": []Rejected{{Index: -1, Reason: err.Error()}}})
			return
		}
		if unknown == nil {
			unknown = []string{}
		}
		writeJSON(w, http.StatusOK, map[string]any{done: n, "unknown": unknown})
	}
}

// decodeIDs reads {"ids":["…",…]} as it arrives, stopping with errTooMany
// before the (max+1)-th id; other members are skipped. An error that is not
// the reader's matches errBadIDs.
func decodeIDs(r io.Reader, max int) ([]string, error) {
	src := &readErr{r: r}
	dec := json.NewDecoder(src)
	bad := func(err error) error {
		if src.err != nil {
			return src.err
		}
		return fmt.Errorf("%w: %w", errBadIDs, err)
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, bad(errors.New("not a JSON object"))
	}
	var ids []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, bad(err)
		}
		if t != "ids" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, bad(err)
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return nil, bad(errors.New("ids is not an array"))
		}
		for dec.More() {
			if len(ids) == max {
				return nil, errTooMany
			}
			var id string
			if err := dec.Decode(&id); err != nil {
				return nil, bad(fmt.Errorf("ids[%d] is not a string", len(ids)))
			}
			if len(id) > event.MaxIDBytes { // no event's: refused, not echoed in unknown
				return nil, fmt.Errorf("%w: ids[%d] is %d bytes, more than an event id's %d", errBadIDs, len(ids), len(id), event.MaxIDBytes)
			}
			ids = append(ids, id)
		}
		if _, err := dec.Token(); err != nil {
			return nil, bad(err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad(errors.New("more after the end of the JSON object"))
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf(`%w: no ids`, errBadIDs)
	}
	return ids, nil
}

// errBadIDs is a confirm or cancel body that is not {"ids":["…"]}.
var errBadIDs = errors.New(`want {"ids":["…"]}`)
