package partnersim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
)

const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

type listItem struct {
	Key     string          `json:"key"`
	Account string          `json:"account"`
	Version int64           `json:"version"`
	Data    json.RawMessage `json:"data"`
	Parent  *Ref            `json:"parent,omitempty"` // beyond docs/partner-api.md, ignored by clients that do not know it
}

// handleList is GET /v1/{entity}?account=A&cursor=C&limit=N: live records of
// one entity in key order, a page at a time; next_cursor is empty on the
// last page.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	entity := r.PathValue("entity")
	if !entityRe.MatchString(entity) {
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request", "entity must match [a-z0-9_-]{1,64}"))
		return
	}
	q := r.URL.Query()
	limit := defaultListLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			writeJSON(w, http.StatusBadRequest, errBody("invalid_request", "limit must be 1 to 1000"))
			return
		}
		limit = n
	}
	after := ""
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(b) == 0 {
			writeJSON(w, http.StatusBadRequest, errBody("invalid_request", "cursor is not one this API gave out"))
			return
		}
		after = string(b)
	}
	account := q.Get("account")

	s.mu.Lock()
	items := make([]listItem, 0, min(limit, 128))
	next := ""
	if x := s.keys[entity]; x != nil {
		x.walk(after, func(k string) bool {
			rec := s.records[recordID{entity, k}]
			if rec == nil || rec.Deleted || account != "" && rec.Account != account {
				return true
			}
			if len(items) == limit {
				next = base64.RawURLEncoding.EncodeToString([]byte(items[limit-1].Key))
				return false
			}
			items = append(items, listItem{Key: k, Account: rec.Account, Version: rec.Version, Data: rec.Data, Parent: rec.Parent})
			return true
		})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
}
