package partnersim

import (
	"encoding/json"
	"strconv"
)

// crmBatchResult is one item's outcome in a batch_upsert answer.
type crmBatchResult struct {
	ExternalID string `json:"external_id"`
	ID         string `json:"id,omitempty"`
	Code       int    `json:"code"`
	Msg        string `json:"msg,omitempty"`
}

// crmBatchUpsert is POST /crm/v2/{entity}/batch_upsert, body
// {"items":[{external_id, owner, fields, parent_id}…]} (at most 100): each
// item updates the record with its external_id that is not archived (fields
// merge as in a PATCH; a non-empty owner or parent_id replaces), or creates
// one. The items are applied in order, at once, and answered in that order,
// each with its own code: one item's failure (40000 invalid, 40001 parent
// not found, 50700 store full) leaves the others applied.
func (s *Server) crmBatchUpsert(c *crmCall) crmAnswer {
	var b struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := decodeStrict(c.body, &b); err != nil {
		return crmErr(CRMCodeInvalid, "body is not {\"items\":[…]}: "+err.Error())
	}
	if len(b.Items) > crmMaxBatch {
		return crmErr(CRMCodeInvalid, "at most 100 items, got "+strconv.Itoa(len(b.Items)))
	}
	writes := make([]crmWrite, len(b.Items))
	results := make([]crmBatchResult, len(b.Items))
	reject := s.Faults().RejectPrefix
	for i, raw := range b.Items {
		w := &writes[i]
		if err := decodeStrict(raw, w); err != nil {
			results[i] = crmBatchResult{ExternalID: w.ExternalID, Code: CRMCodeInvalid, Msg: "item is not a record: " + err.Error()}
		} else if msg := w.invalid(reject); msg != "" {
			results[i] = crmBatchResult{ExternalID: w.ExternalID, Code: CRMCodeInvalid, Msg: msg}
		}
	}
	now := s.opts.Now()
	st := s.crm
	st.mu.Lock()
	for i := range writes {
		if results[i].Code != 0 {
			continue
		}
		w := &writes[i]
		results[i] = crmBatchResult{ExternalID: w.ExternalID}
		if w.ParentID != "" && !st.parentOK(w.ParentID) {
			results[i].Code, results[i].Msg = CRMCodeParentNotFound, "parent not found"
			continue
		}
		if r := st.live(c.entity, w.ExternalID); r != nil {
			fields, err := mergeFields(r.Fields, w.Fields)
			if err != nil {
				results[i].Code, results[i].Msg = CRMCodeInvalid, err.Error()
				continue
			}
			var owner, parent *string
			if w.Owner != "" {
				owner = &w.Owner
			}
			if w.ParentID != "" {
				parent = &w.ParentID
			}
			applyPatch(r, fields, owner, parent, now)
			s.crmEchoWrite(st, r, now)
			results[i].ID = r.ID
			continue
		}
		r := &CRMRecord{ExternalID: w.ExternalID, Owner: w.Owner, Fields: compactFields(w.Fields), ParentID: w.ParentID, entity: c.entity}
		r.touch(now, false)
		if !st.add(r) {
			results[i].Code, results[i].Msg = CRMCodeFull, "record store full"
			continue
		}
		s.crmEchoWrite(st, r, now)
		results[i].ID = r.ID
	}
	st.mu.Unlock()
	a := crmOK(map[string]any{"results": results})
	a.bulk = true
	return a
}
