package partnersim

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// DriftSpec is the body of POST /_sim/drift: the simulator changes its own
// copy behind the sender's back, the way a partner drifts, for tests and
// demos of reconciliation. Each count picks that many distinct live records
// of Entity at random (of Account only, when set):
//   - Drop: the record is lost (as if the write never happened; no tombstone)
//   - Alter: its data changes, its version stays
//   - Age: its version goes down by one and its data changes (an older copy)
//   - Bump: its version goes up by one and its data changes (edited there)
//   - Add: a new record the sender never sent (key "drift-<n>")
type DriftSpec struct {
	Entity  string `json:"entity"`
	Account string `json:"account,omitempty"`
	Drop    int    `json:"drop,omitempty"`
	Alter   int    `json:"alter,omitempty"`
	Age     int    `json:"age,omitempty"`
	Bump    int    `json:"bump,omitempty"`
	Add     int    `json:"add,omitempty"`
	// Keys, when set, are picked first, in order, before random records.
	Keys []string `json:"keys,omitempty"`
}

// Drifted is what a drift did, record by record.
type Drifted struct {
	Dropped []Ref `json:"dropped"`
	Altered []Ref `json:"altered"`
	Aged    []Ref `json:"aged"`
	Bumped  []Ref `json:"bumped"`
	Added   []Ref `json:"added"`
}

// Drift applies spec. Fewer records than asked are changed when the entity
// has fewer live records.
func (s *Server) Drift(spec DriftSpec) (Drifted, error) {
	if !entityRe.MatchString(spec.Entity) {
		return Drifted{}, errors.New("entity must match [a-z0-9_-]{1,64}")
	}
	if spec.Drop < 0 || spec.Alter < 0 || spec.Age < 0 || spec.Bump < 0 || spec.Add < 0 {
		return Drifted{}, errors.New("counts must not be negative")
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	d := Drifted{Dropped: []Ref{}, Altered: []Ref{}, Aged: []Ref{}, Bumped: []Ref{}, Added: []Ref{}}
	x := s.keys[spec.Entity]
	picked := map[string]bool{}
	// pick returns a random live record not picked before, or "" after
	// enough misses (few live records left).
	next := 0
	pick := func() string {
		for next < len(spec.Keys) {
			k := spec.Keys[next]
			next++
			if rec := s.records[recordID{spec.Entity, k}]; rec != nil && !rec.Deleted && !picked[k] {
				picked[k] = true
				return k
			}
		}
		if x == nil || x.len() == 0 {
			return ""
		}
		for range 64 + 4*x.len()/max(1, x.len()-len(picked)) {
			k := x.at(s.rng.IntN(x.len()))
			rec := s.records[recordID{spec.Entity, k}]
			if picked[k] || rec == nil || rec.Deleted || spec.Account != "" && rec.Account != spec.Account {
				continue
			}
			picked[k] = true
			return k
		}
		return ""
	}
	redata := func(rec *record, k string) {
		rec.Data = json.RawMessage(`{"drifted":` + strconv.Itoa(s.rng.IntN(1_000_000)) + `,"key":` + string(mustJSON(k)) + `}`)
		rec.UpdatedAt = now
	}
	for range spec.Drop {
		if k := pick(); k != "" {
			delete(s.records, recordID{spec.Entity, k})
			d.Dropped = append(d.Dropped, Ref{spec.Entity, k})
		}
	}
	for range spec.Alter {
		if k := pick(); k != "" {
			redata(s.records[recordID{spec.Entity, k}], k)
			d.Altered = append(d.Altered, Ref{spec.Entity, k})
		}
	}
	for range spec.Age {
		if k := pick(); k != "" {
			rec := s.records[recordID{spec.Entity, k}]
			if rec.Version <= 1 {
				continue
			}
			rec.Version--
			redata(rec, k)
			d.Aged = append(d.Aged, Ref{spec.Entity, k})
		}
	}
	for range spec.Bump {
		if k := pick(); k != "" {
			rec := s.records[recordID{spec.Entity, k}]
			rec.Version++
			redata(rec, k)
			d.Bumped = append(d.Bumped, Ref{spec.Entity, k})
		}
	}
	account := spec.Account
	if account == "" {
		account = "acc-drift"
	}
	for range spec.Add {
		s.driftSeq++
		k := "drift-" + strconv.FormatInt(s.driftSeq, 10)
		rec := &record{Account: account, Version: 1, UpdatedAt: now}
		redata(rec, k)
		s.setRecord(recordID{spec.Entity, k}, rec)
		d.Added = append(d.Added, Ref{spec.Entity, k})
	}
	return d, nil
}

func (s *Server) handleDrift(w http.ResponseWriter, r *http.Request) {
	var spec DriftSpec
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request", err.Error()))
		return
	}
	d, err := s.Drift(spec)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request", err.Error()))
		return
	}
	s.opts.Logger.Info("drift", "entity", spec.Entity, "dropped", len(d.Dropped), "altered", len(d.Altered),
		"aged", len(d.Aged), "bumped", len(d.Bumped), "added", len(d.Added))
	writeJSON(w, http.StatusOK, d)
}
