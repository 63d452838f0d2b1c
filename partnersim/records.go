package partnersim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"
)

var entityRe = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// Ref names a record.
type Ref struct {
	Entity string `json:"entity"`
	Key    string `json:"key"`
}

type recordID struct{ entity, key string }

type record struct {
	Account   string
	Version   int64
	Data      json.RawMessage
	Parent    *Ref
	UpdatedAt time.Time
	Deleted   bool // a tombstone keeps the version, so older writes stay stale
}

func (r *record) view() map[string]any {
	v := map[string]any{"account": r.Account, "version": r.Version, "data": r.Data, "updated_at": r.UpdatedAt.UTC().Format(time.RFC3339Nano)}
	if r.Parent != nil {
		v["parent"] = r.Parent // beyond docs/partner-api.md: lets the simulator play a source with parents
	}
	return v
}

type putBody struct {
	Account string          `json:"account"`
	Version int64           `json:"version"`
	Data    json.RawMessage `json:"data"`
	Parent  *Ref            `json:"parent"`
}

// handlePut is PUT /v1/{entity}/{key}: create or replace a record.
func (s *Server) handlePut(w http.ResponseWriter, r *http.Request) {
	id, ok := pathRecord(w, r)
	if !ok {
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, errBody("too_large", fmt.Sprintf("body over %d bytes", maxBody)))
			return
		}
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request", err.Error()))
		return
	}
	var b putBody
	if err := json.Unmarshal(raw, &b); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request", "body is not the JSON of a record: "+err.Error()))
		return
	}
	if msg := b.invalid(); msg != "" {
		writeJSON(w, http.StatusUnprocessableEntity, errBody("invalid_record", msg))
		return
	}
	var compact bytes.Buffer
	_ = json.Compact(&compact, raw)
	m := mutation{method: http.MethodPut, id: id, account: b.Account, version: b.Version, body: compact.Bytes()}
	s.mutate(w, r, m, func(now time.Time) (int, any) { return s.applyPut(id, b, now) })
}

// applyPut applies a valid PUT of record id (or one item of a bulk
// request) under s.mu: its parent must be here, its version newer than the
// record's; 201 for a new record, 200 for a replaced one.
func (s *Server) applyPut(id recordID, b putBody, now time.Time) (int, any) {
	if b.Parent != nil {
		p := s.records[recordID{b.Parent.Entity, b.Parent.Key}]
		if p == nil || p.Deleted {
			return http.StatusConflict, errBody("parent_missing", fmt.Sprintf("parent %s/%s is not here", b.Parent.Entity, b.Parent.Key))
		}
	}
	cur := s.records[id]
	if cur != nil && cur.Version >= b.Version {
		return http.StatusConflict, map[string]any{"error": "stale_version", "current_version": cur.Version}
	}
	status := http.StatusOK
	if cur == nil || cur.Deleted {
		status = http.StatusCreated
	}
	rec := &record{Account: b.Account, Version: b.Version, Data: b.Data, Parent: b.Parent, UpdatedAt: now}
	s.setRecord(id, rec)
	v := rec.view() // the answer shows the write; its echo has the next version
	s.echoWrite(id, rec)
	return status, v
}

func (b putBody) invalid() string {
	switch {
	case b.Account == "":
		return "account is required"
	case b.Version <= 0:
		return "version must be a whole number greater than 0"
	case len(b.Data) == 0 || b.Data[0] != '{':
		return "data must be a JSON object"
	case b.Parent != nil && (!entityRe.MatchString(b.Parent.Entity) || b.Parent.Key == ""):
		return "parent needs an entity ([a-z0-9_-]{1,64}) and a key"
	}
	return ""
}

// handleDelete is DELETE /v1/{entity}/{key}?version=N.
func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	id, ok := pathRecord(w, r)
	if !ok {
		return
	}
	version, err := strconv.ParseInt(r.URL.Query().Get("version"), 10, 64)
	if err != nil || version <= 0 {
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request", "query parameter version must be a whole number greater than 0"))
		return
	}
	s.mu.Lock()
	account := ""
	if cur := s.records[id]; cur != nil {
		account = cur.Account
	}
	s.mu.Unlock()
	m := mutation{method: http.MethodDelete, id: id, account: account, version: version, body: []byte(strconv.FormatInt(version, 10))}
	s.mutate(w, r, m, func(now time.Time) (int, any) {
		cur := s.records[id]
		if cur == nil || cur.Deleted {
			return http.StatusNotFound, errBody("not_found", "no such record")
		}
		if cur.Version >= version {
			return http.StatusConflict, map[string]any{"error": "stale_version", "current_version": cur.Version}
		}
		cur.Deleted, cur.Version, cur.Data, cur.UpdatedAt = true, version, nil, now
		s.echoWrite(id, cur)
		return http.StatusNoContent, nil
	})
}

// handleGet is GET /v1/{entity}/{key}.
func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	id, ok := pathRecord(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	cur := s.records[id]
	var v map[string]any
	if cur != nil && !cur.Deleted {
		v = cur.view()
	}
	s.mu.Unlock()
	if v == nil {
		writeJSON(w, http.StatusNotFound, errBody("not_found", "no such record"))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func pathRecord(w http.ResponseWriter, r *http.Request) (recordID, bool) {
	id := recordID{r.PathValue("entity"), r.PathValue("key")}
	if !entityRe.MatchString(id.entity) || id.key == "" {
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request", "entity must match [a-z0-9_-]{1,64} and key must not be empty"))
		return id, false
	}
	return id, true
}
