package partnersim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
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
	// UpdatedAt is the record's last write (RFC 3339, ns); Deleted marks a
	// tombstone, listed only with updated_since (a poll must see deletes).
	UpdatedAt string `json:"updated_at"`
	Deleted   bool   `json:"deleted,omitempty"`
}

// handleList is GET /v1/{entity}?account=A&cursor=C&limit=N: live records of
// one entity in key order, a page at a time; next_cursor is empty on the
// last page. With updated_since=MS (unix ms) only the records written at or
// after it are listed, and deleted ones among them too ("deleted":true, data
// null), so that a poll sees deletes; the cursor pages through that set.
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
	since, filtered := int64(0), q.Has("updated_since")
	if filtered {
		n, err := strconv.ParseInt(q.Get("updated_since"), 10, 64)
		if err != nil || n < 0 {
			writeJSON(w, http.StatusBadRequest, errBody("invalid_request", "updated_since must be unix milliseconds"))
			return
		}
		since = n
	}

	s.mu.Lock()
	items := make([]listItem, 0, min(limit, 128))
	next := ""
	if x := s.keys[entity]; x != nil {
		x.walk(after, func(k string) bool {
			rec := s.records[recordID{entity, k}]
			if rec == nil || rec.Deleted && !filtered || account != "" && rec.Account != account ||
				filtered && rec.UpdatedAt.UnixMilli() < since {
				return true
			}
			if len(items) == limit {
				next = base64.RawURLEncoding.EncodeToString([]byte(items[limit-1].Key))
				return false
			}
			items = append(items, listItem{Key: k, Account: rec.Account, Version: rec.Version, Data: rec.Data, Parent: rec.Parent,
				UpdatedAt: rec.UpdatedAt.UTC().Format(time.RFC3339Nano), Deleted: rec.Deleted})
			return true
		})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
}
