package partnersim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Errors of Change, by what the /_sim/change answer says.
var (
	ErrChangeInvalid  = errors.New("invalid change")
	ErrChangeNotFound = errors.New("no such record")
	ErrChangeConflict = errors.New("change conflicts with the record")
)

// ChangeSpec is the body of POST /_sim/change: one change made on the
// simulator's side, as a user of that system would make it — it gets a new
// version and is sent through the echo (when on) like any write.
type ChangeSpec struct {
	// API is the API whose record changes: "v1" (the built-in one) or "crm";
	// "" is v1 unless the simulator serves the crm API only.
	API    string `json:"api,omitempty"`
	Entity string `json:"entity"`
	// Key is the record's key (crm: its external_id; the change applies to
	// the record with it that is not archived, or makes one).
	Key string `json:"key"`
	// Account (crm: owner) is needed for a new record; else it replaces the
	// record's when given.
	Account string `json:"account,omitempty"`
	// Data is the record's whole new state (crm: its fields), a JSON object.
	Data json.RawMessage `json:"data,omitempty"`
	// Parent, when given, replaces the record's parent; it must be here.
	Parent *Ref `json:"parent,omitempty"`
	// Delete deletes the record (crm: archives it).
	Delete bool `json:"delete,omitempty"`
	// Version (v1 only) is the new version; it must be above the record's.
	// When 0 it is the record's version plus one (1 for a new record). A crm
	// change moves updated_at on by a second at least instead.
	Version int64 `json:"version,omitempty"`
}

// Change applies spec and returns the record after it (a v1 record as its
// GET shows it, with entity and key; a crm record as its GET shows it).
// Errors wrap ErrChangeInvalid, ErrChangeNotFound or ErrChangeConflict.
func (s *Server) Change(spec ChangeSpec) (any, error) {
	switch {
	case !entityRe.MatchString(spec.Entity):
		return nil, fmt.Errorf("%w: entity must match [a-z0-9_-]{1,64}", ErrChangeInvalid)
	case spec.Key == "":
		return nil, fmt.Errorf("%w: key is required", ErrChangeInvalid)
	case !spec.Delete && (len(spec.Data) == 0 || !isJSONObject(spec.Data)):
		return nil, fmt.Errorf("%w: data must be a JSON object", ErrChangeInvalid)
	case spec.Parent != nil && (!entityRe.MatchString(spec.Parent.Entity) || spec.Parent.Key == ""):
		return nil, fmt.Errorf("%w: parent needs an entity and a key", ErrChangeInvalid)
	}
	api := spec.API
	if api == "" {
		api = APIV1
		if s.opts.API == APICRM {
			api = APICRM
		}
	}
	switch api {
	case APIV1:
		return s.changeV1(spec, s.opts.Now())
	case APICRM:
		return s.changeCRM(spec, s.opts.Now())
	}
	return nil, fmt.Errorf("%w: api must be v1 or crm, is %q", ErrChangeInvalid, spec.API)
}

func (s *Server) changeV1(spec ChangeSpec, now time.Time) (any, error) {
	id := recordID{spec.Entity, spec.Key}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.records[id]
	version := spec.Version
	if version == 0 {
		version = 1
		if cur != nil {
			version = cur.Version + 1
		}
	}
	if cur != nil && version <= cur.Version {
		return nil, fmt.Errorf("%w: version %d is not above the record's %d", ErrChangeConflict, version, cur.Version)
	}
	if spec.Delete {
		if cur == nil || cur.Deleted {
			return nil, ErrChangeNotFound
		}
		cur.Deleted, cur.Version, cur.Data, cur.UpdatedAt = true, version, nil, now
		s.emitRecord(id, cur)
		return map[string]any{"entity": id.entity, "key": id.key, "account": cur.Account, "version": version, "deleted": true}, nil
	}
	rec := &record{Account: spec.Account, Version: version, Data: compactFields(spec.Data), Parent: spec.Parent, UpdatedAt: now}
	if cur != nil {
		if rec.Account == "" {
			rec.Account = cur.Account
		}
		if rec.Parent == nil {
			rec.Parent = cur.Parent
		}
	}
	if rec.Account == "" {
		return nil, fmt.Errorf("%w: account is required for a new record", ErrChangeInvalid)
	}
	if spec.Parent != nil {
		if p := s.records[recordID{spec.Parent.Entity, spec.Parent.Key}]; p == nil || p.Deleted {
			return nil, fmt.Errorf("%w: parent %s/%s is not here", ErrChangeConflict, spec.Parent.Entity, spec.Parent.Key)
		}
	}
	s.setRecord(id, rec)
	s.emitRecord(id, rec)
	v := rec.view()
	v["entity"], v["key"] = id.entity, id.key
	return v, nil
}

func (s *Server) changeCRM(spec ChangeSpec, now time.Time) (any, error) {
	if spec.Version != 0 {
		return nil, fmt.Errorf("%w: the crm API has no versions", ErrChangeInvalid)
	}
	st := s.crm
	st.mu.Lock()
	defer st.mu.Unlock()
	r := st.live(spec.Entity, spec.Key)
	if spec.Delete {
		if r == nil {
			return nil, ErrChangeNotFound
		}
		r.Archived = true
		r.touch(now, true)
		s.crmEmit(st, r)
		return *r, nil
	}
	parentID := ""
	if spec.Parent != nil {
		p := st.live(spec.Parent.Entity, spec.Parent.Key)
		if p == nil {
			return nil, fmt.Errorf("%w: parent %s/%s is not here", ErrChangeConflict, spec.Parent.Entity, spec.Parent.Key)
		}
		parentID = p.ID
	}
	if r == nil {
		if spec.Account == "" {
			return nil, fmt.Errorf("%w: account is required for a new record", ErrChangeInvalid)
		}
		r = &CRMRecord{ExternalID: spec.Key, Owner: spec.Account, Fields: compactFields(spec.Data), ParentID: parentID, entity: spec.Entity}
		r.touch(now, false)
		if !st.add(r) {
			return nil, fmt.Errorf("%w: record store full", ErrChangeConflict)
		}
	} else {
		r.Fields = compactFields(spec.Data)
		if spec.Account != "" {
			r.Owner = spec.Account
		}
		if parentID != "" {
			r.ParentID = parentID
		}
		r.touch(now, true)
	}
	s.crmEmit(st, r)
	return *r, nil
}

// ChangesSpec is the body of POST /_sim/changes: Count changes (at most
// maxChanges) of the records /_sim/seed generates — key SeedKey(Prefix, i)
// for i from Start, account "acc-"+(i mod Accounts) when the record is new —
// each made as by /_sim/change, with data {"i":i,"name":"record i",
// "change":n}, n drawn from Seed (the same seed makes the same data), or a
// delete of each when Delete is set (records not here are skipped).
type ChangesSpec struct {
	API      string `json:"api,omitempty"`
	Entity   string `json:"entity"`
	Count    int    `json:"count"`
	Start    int    `json:"start,omitempty"`
	Prefix   string `json:"prefix,omitempty"`
	Accounts int    `json:"accounts,omitempty"`
	Seed     uint64 `json:"seed,omitempty"`
	Delete   bool   `json:"delete,omitempty"`
}

const maxChanges = 100_000

// Changes applies spec and returns how many records changed.
func (s *Server) Changes(spec ChangesSpec) (int, error) {
	if spec.Count < 1 || spec.Count > maxChanges {
		return 0, fmt.Errorf("%w: count must be 1 to %d", ErrChangeInvalid, maxChanges)
	}
	if spec.Accounts <= 0 {
		spec.Accounts = 10
	}
	rng := rand.New(rand.NewPCG(spec.Seed, spec.Seed^0x2545f4914f6cdd1d))
	n := 0
	for i := spec.Start; i < spec.Start+spec.Count; i++ {
		c := ChangeSpec{API: spec.API, Entity: spec.Entity, Key: SeedKey(spec.Prefix, i), Delete: spec.Delete}
		if !spec.Delete {
			c.Account = "acc-" + strconv.Itoa(i%spec.Accounts)
			c.Data = json.RawMessage(`{"i":` + strconv.Itoa(i) + `,"name":"record ` + strconv.Itoa(i) + `","change":` + strconv.FormatUint(rng.Uint64()>>11, 10) + `}`)
		}
		_, err := s.Change(c)
		switch {
		case err == nil:
			n++
		case errors.Is(err, ErrChangeNotFound):
		default:
			return n, err
		}
	}
	return n, nil
}

// handleChange is POST /_sim/change, body ChangeSpec: 200 with the record
// after the change; 400 invalid, 404 no such record (a delete), 409 a stale
// version or a missing parent.
func (s *Server) handleChange(w http.ResponseWriter, r *http.Request) {
	var spec ChangeSpec
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request", err.Error()))
		return
	}
	rec, err := s.Change(spec)
	if err != nil {
		writeChangeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

// handleChanges is POST /_sim/changes, body ChangesSpec: 200 {"changed":N}.
func (s *Server) handleChanges(w http.ResponseWriter, r *http.Request) {
	var spec ChangesSpec
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request", err.Error()))
		return
	}
	n, err := s.Changes(spec)
	if err != nil {
		writeChangeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"changed": n})
}

func writeChangeErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrChangeNotFound):
		writeJSON(w, http.StatusNotFound, errBody("not_found", err.Error()))
	case errors.Is(err, ErrChangeConflict):
		writeJSON(w, http.StatusConflict, errBody("conflict", err.Error()))
	default:
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request", err.Error()))
	}
}
