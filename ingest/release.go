package ingest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// maxReleaseIDs bounds the ids of one confirm or cancel request.
const maxReleaseIDs = 10000

// handleRelease serves POST /v1/events/confirm and /v1/events/cancel
// (contract §8): body {"ids":[…]}, answer 200 {"<done>":N,"unknown":[…]},
// unknown naming the ids that were not prepared (never, or released
// already — a confirm after the check-back released an event is harmless).
func (s *Server) handleRelease(action, done string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			IDs []string `json:"ids"`
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
		if err == nil {
			err = json.Unmarshal(body, &req)
		}
		if err == nil && len(req.IDs) == 0 {
			err = errors.New(`no ids: want {"ids":["…"]}`)
		}
		if err == nil && len(req.IDs) > maxReleaseIDs {
			err = errors.New("more than 10000 ids in one request")
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []Rejected{{Index: -1, Reason: err.Error()}}})
			return
		}
		n, unknown, err := s.prepared.ReleaseMany(r.Context(), req.IDs, action, s.cfg.Now())
		if err != nil {
			s.cfg.Logger.Error("ingest: release failed", "action", action, "released", n, "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{done: n, "errors": []Rejected{{Index: -1, Reason: err.Error()}}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{done: n, "unknown": unknown})
	}
}
