package partnersim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// MaxBulkItems is the most items one POST /v1/{entity}/_bulk takes.
const MaxBulkItems = 1000

// bulkItem is one record of a bulk request: a PUT's body with the key it
// would have in its path and the Idempotency-Key it would carry.
type bulkItem struct {
	Key            string          `json:"key"`
	Account        string          `json:"account"`
	Version        int64           `json:"version"`
	Data           json.RawMessage `json:"data"`
	Parent         *Ref            `json:"parent,omitempty"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
}

// BulkResult is the answer for one item, in the items' order: the status
// the item's own PUT would have had, and for a refusal its error code,
// detail and (stale_version) the record's current version.
type BulkResult struct {
	Key            string `json:"key"`
	Status         int    `json:"status"`
	Error          string `json:"error,omitempty"`
	Detail         string `json:"detail,omitempty"`
	CurrentVersion int64  `json:"current_version,omitempty"`
}

// handleBulk is POST /v1/{entity}/_bulk (beyond docs/partner-api.md: what a
// bulk profile is measured against): {"items":[{key, account, version,
// data, parent, idempotency_key}]} (1 to MaxBulkItems) → 200
// {"results":[BulkResult…]}, one per item in order. Each item is applied
// exactly as its own PUT would be — validation, parent, version, key prefix
// refusals, idempotency keys (an item's idempotency_key is remembered as a
// PUT's Idempotency-Key is: a repeated key answers from memory) — and is
// logged as that PUT. The request as a whole waits the latency once, and an injected
// 503 or 429 refuses all of it. Every item's account counts as in flight
// for the whole request, so two items of one account in one request, or in
// two requests at once, are overlaps.
func (s *Server) handleBulk(w http.ResponseWriter, r *http.Request) {
	entity := r.PathValue("entity")
	if !entityRe.MatchString(entity) {
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request", "entity must match [a-z0-9_-]{1,64}"))
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
	var req struct {
		Items []bulkItem `json:"items"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request", "body is not {\"items\":[…]}: "+err.Error()))
		return
	}
	if len(req.Items) == 0 || len(req.Items) > MaxBulkItems {
		writeJSON(w, http.StatusUnprocessableEntity, errBody("invalid_request", fmt.Sprintf("items must hold 1 to %d records, holds %d", MaxBulkItems, len(req.Items))))
		return
	}
	arrival := s.opts.Now()
	for _, it := range req.Items {
		s.enter(it.Account)
	}
	defer func() {
		for _, it := range req.Items {
			s.leave(it.Account)
		}
	}()

	f, roll, ok := s.injectLatency(r)
	if !ok {
		return
	}
	switch {
	case roll < f.ErrorRate:
		writeJSON(w, http.StatusServiceUnavailable, errBody("unavailable", "injected error"))
		return
	case roll < f.ErrorRate+f.Rate429:
		w.Header().Set("Retry-After", fmt.Sprint(f.retryAfterSeconds()))
		writeJSON(w, http.StatusTooManyRequests, errBody("rate_limited", "injected 429"))
		return
	}
	results := make([]BulkResult, len(req.Items))
	for i, it := range req.Items {
		results[i] = s.bulkOne(entity, it, f)
		s.logRequest(LogEntry{
			AtUS: arrival.UnixMicro(), DoneUS: s.opts.Now().UnixMicro(), Method: http.MethodPut, Entity: entity, Key: it.Key,
			Account: it.Account, Version: it.Version, IdempotencyKey: it.IdempotencyKey, Status: results[i].Status,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// bulkOne applies one item as its PUT would be applied.
func (s *Server) bulkOne(entity string, it bulkItem, f Faults) BulkResult {
	res := BulkResult{Key: it.Key}
	refuse := func(status int, code, detail string) BulkResult {
		res.Status, res.Error, res.Detail = status, code, detail
		return res
	}
	if it.Key == "" {
		return refuse(http.StatusBadRequest, "invalid_request", "key must not be empty")
	}
	b := putBody{Account: it.Account, Version: it.Version, Data: it.Data, Parent: it.Parent}
	if msg := b.invalid(); msg != "" {
		return refuse(http.StatusUnprocessableEntity, "invalid_record", msg)
	}
	if f.RejectPrefix != "" && strings.HasPrefix(it.Key, f.RejectPrefix) {
		return refuse(http.StatusUnprocessableEntity, "rejected", "key prefix "+f.RejectPrefix+" is refused")
	}
	// The fingerprint of a repeated idempotency key is over the item's
	// record as re-encoded, so a retried batch matches itself.
	m := mutation{method: http.MethodPut, id: recordID{entity, it.Key}, account: it.Account, version: it.Version, body: mustJSON(b)}
	status, body := s.applyOnce(it.IdempotencyKey, m, func(now time.Time) (int, any) { return s.applyPut(m.id, b, now) }, http.Header{})
	res.Status = status
	var v map[string]any
	if json.Unmarshal(body, &v) == nil {
		if e, ok := v["error"].(string); ok {
			res.Error = e
			res.Detail, _ = v["detail"].(string)
			if cv, ok := v["current_version"].(float64); ok {
				res.CurrentVersion = int64(cv)
			}
		}
	}
	return res
}
