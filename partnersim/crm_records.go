package partnersim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// CRMRequestIDHeader makes a create idempotent: a create whose X-Request-Id
// repeats an earlier successful create's gets that create's answer again.
const CRMRequestIDHeader = "X-Request-Id"

// crmWrite is the body of a create and an item of a batch_upsert.
type crmWrite struct {
	ExternalID string          `json:"external_id"`
	Owner      string          `json:"owner"`
	Fields     json.RawMessage `json:"fields"`
	ParentID   string          `json:"parent_id"`
}

// crmPatchBody is the body of a PATCH: fields merge into the record's
// (a null value removes a field); owner and parent_id replace when given
// ("" removes the parent).
type crmPatchBody struct {
	Fields   json.RawMessage `json:"fields"`
	Owner    *string         `json:"owner"`
	ParentID *string         `json:"parent_id"`
}

// readCRMBody reads the body's exact bytes (at most maxBody).
func readCRMBody(w http.ResponseWriter, r *http.Request) ([]byte, *crmAnswer) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		a := crmErr(CRMCodeInvalid, "body could not be read: "+err.Error())
		if errors.As(err, &mbe) {
			a = crmErr(CRMCodeTooLarge, fmt.Sprintf("body over %d bytes", maxBody))
		}
		return nil, &a
	}
	return b, nil
}

// decodeStrict reads JSON into v, refusing unknown fields and trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

// invalid says what is wrong with a write, or "".
func (b *crmWrite) invalid(rejectPrefix string) string {
	switch {
	case b.ExternalID == "":
		return "external_id is required"
	case len(b.Fields) > 0 && !isJSONObject(b.Fields):
		return "fields must be a JSON object"
	case rejectPrefix != "" && strings.HasPrefix(b.ExternalID, rejectPrefix):
		return "external_id prefix " + rejectPrefix + " is refused"
	}
	return ""
}

func isJSONObject(b json.RawMessage) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// compactFields is the stored form of fields: compact JSON, {} when absent.
func compactFields(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage(`{}`)
	}
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

func crmTime(now time.Time) string { return now.In(crmZone).Format(time.RFC3339) }

// crmCreate is POST /crm/v2/{entity}: a new record, whatever records with
// the same external_id exist already, unless X-Request-Id repeats.
func (s *Server) crmCreate(c *crmCall) crmAnswer {
	var b crmWrite
	if err := decodeStrict(c.body, &b); err != nil {
		return crmErr(CRMCodeInvalid, "body is not a record: "+err.Error())
	}
	if msg := b.invalid(s.Faults().RejectPrefix); msg != "" {
		return crmErr(CRMCodeInvalid, msg)
	}
	requestID := c.r.Header.Get(CRMRequestIDHeader)
	now := s.opts.Now()
	st := s.crm
	st.mu.Lock()
	defer st.mu.Unlock()
	if requestID != "" {
		if rep, ok := st.replays[requestID]; ok && rep.entity == c.entity {
			st.stats.Replays++
			return crmAnswer{body: rep.body, replay: true}
		}
	}
	if b.ParentID != "" && !st.parentOK(b.ParentID) {
		return crmErr(CRMCodeParentNotFound, "parent not found")
	}
	r := &CRMRecord{ExternalID: b.ExternalID, Owner: b.Owner, Fields: compactFields(b.Fields), ParentID: b.ParentID, entity: c.entity}
	r.touch(now, false)
	if !st.add(r) {
		return crmFault(CRMCodeFull, "record store full")
	}
	s.crmEchoWrite(st, r, now)
	a := crmOK(map[string]string{"id": r.ID})
	a.create = true
	if requestID != "" {
		st.remember(requestID, c.entity, a.body)
	}
	return a
}

// crmGet is GET /crm/v2/{entity}/{id}; archived records are shown archived.
func (s *Server) crmGet(c *crmCall) crmAnswer {
	st := s.crm
	st.mu.Lock()
	r := st.get(c.entity, c.id)
	var body []byte
	if r != nil {
		body = mustJSON(struct {
			Code int        `json:"code"`
			Data *CRMRecord `json:"data"`
		}{0, r})
	}
	st.mu.Unlock()
	if body == nil {
		return crmErr(CRMCodeNotFound, "not found")
	}
	return crmAnswer{body: body}
}

// crmPatch is PATCH /crm/v2/{entity}/{id}: merge fields. An archived
// record is not found.
func (s *Server) crmPatch(c *crmCall) crmAnswer {
	var b crmPatchBody
	if err := decodeStrict(c.body, &b); err != nil {
		return crmErr(CRMCodeInvalid, "body is not a change: "+err.Error())
	}
	if len(b.Fields) > 0 && string(b.Fields) != "null" && !isJSONObject(b.Fields) {
		return crmErr(CRMCodeInvalid, "fields must be a JSON object")
	}
	now := s.opts.Now()
	st := s.crm
	st.mu.Lock()
	defer st.mu.Unlock()
	r := st.get(c.entity, c.id)
	if r == nil || r.Archived {
		return crmErr(CRMCodeNotFound, "not found")
	}
	if b.ParentID != nil && *b.ParentID != "" && !st.parentOK(*b.ParentID) {
		return crmErr(CRMCodeParentNotFound, "parent not found")
	}
	fields, err := mergeFields(r.Fields, b.Fields)
	if err != nil {
		return crmErr(CRMCodeInvalid, err.Error())
	}
	applyPatch(r, fields, b.Owner, b.ParentID, now)
	s.crmEchoWrite(st, r, now)
	return crmOK(nil)
}

func applyPatch(r *CRMRecord, fields json.RawMessage, owner, parentID *string, now time.Time) {
	r.Fields = fields
	if owner != nil {
		r.Owner = *owner
	}
	if parentID != nil {
		r.ParentID = *parentID
	}
	r.touch(now, false)
}

// mergeFields sets the top-level fields of patch in cur; a null removes one.
func mergeFields(cur, patch json.RawMessage) (json.RawMessage, error) {
	if len(patch) == 0 || string(patch) == "null" {
		return cur, nil
	}
	var m, p map[string]json.RawMessage
	if err := json.Unmarshal(cur, &m); err != nil || m == nil {
		m = map[string]json.RawMessage{}
	}
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, fmt.Errorf("fields must be a JSON object: %w", err)
	}
	for k, v := range p {
		if string(v) == "null" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// crmDelete is DELETE /crm/v2/{entity}/{id}: the record is archived, and
// stays readable; archiving it again is a success too.
func (s *Server) crmDelete(c *crmCall) crmAnswer {
	now := s.opts.Now()
	st := s.crm
	st.mu.Lock()
	defer st.mu.Unlock()
	r := st.get(c.entity, c.id)
	if r == nil {
		return crmErr(CRMCodeNotFound, "not found")
	}
	if !r.Archived {
		r.Archived = true
		r.touch(now, false)
		s.crmEchoWrite(st, r, now)
	}
	return crmOK(nil)
}

// crmList is GET /crm/v2/{entity}: with external_id, the records that carry
// it (archived ones included); otherwise a page of every record, in id
// order, from offset, at most limit (1–200, default 50), with the total.
// With updated_after=T (RFC 3339) only the records whose updated_at is at
// or after T are listed (and counted in total): offset pages through them.
func (s *Server) crmList(c *crmCall) crmAnswer {
	q := c.r.URL.Query()
	if q.Has("external_id") {
		return s.crmFind(c.entity, q.Get("external_id"))
	}
	offset, limit := 0, crmDefaultLimit
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return crmErr(CRMCodeInvalid, "offset must be a whole number ≥ 0")
		}
		offset = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > crmMaxLimit {
			return crmErr(CRMCodeInvalid, "limit must be 1 to 200")
		}
		limit = n
	}
	var after time.Time
	filtered := q.Has("updated_after")
	if filtered {
		t, err := time.Parse(time.RFC3339, q.Get("updated_after"))
		if err != nil {
			return crmErr(CRMCodeInvalid, "updated_after must be an RFC 3339 time")
		}
		after = t
	}
	shuffle := s.Faults().CRM.ShufflePages
	st := s.crm
	st.mu.Lock()
	defer st.mu.Unlock()
	var recs []*CRMRecord
	if e := st.entities[c.entity]; e != nil {
		recs = e.recs
	}
	if filtered {
		recs = updatedSince(recs, after)
	}
	total := len(recs)
	page := []*CRMRecord{}
	if offset < total {
		page = append(page, recs[offset:min(offset+limit, total)]...)
	}
	if shuffle {
		st.rng.Shuffle(len(page), func(i, j int) { page[i], page[j] = page[j], page[i] })
	}
	return crmItems(page, &total)
}

// crmFind answers the records of entity with externalID; st.mu is not held.
func (s *Server) crmFind(entity, externalID string) crmAnswer {
	st := s.crm
	st.mu.Lock()
	defer st.mu.Unlock()
	items := []*CRMRecord{}
	if e := st.entities[entity]; e != nil {
		items = append(items, e.byExt[externalID]...)
	}
	return crmItems(items, nil)
}

// crmItems is {"code":0,"data":{"items":[…],"total":T}}; the records are
// marshalled at once, under the store's lock.
func crmItems(items []*CRMRecord, total *int) crmAnswer {
	return crmOK(struct {
		Items []*CRMRecord `json:"items"`
		Total *int         `json:"total,omitempty"`
	}{items, total})
}

// updatedSince is the records updated at or after t, in their order.
func updatedSince(recs []*CRMRecord, t time.Time) []*CRMRecord {
	out := []*CRMRecord{}
	for _, r := range recs {
		if !r.updated.Before(t) {
			out = append(out, r)
		}
	}
	return out
}
