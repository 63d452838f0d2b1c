package partnersim

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
)

// CRMStats returns the crm API's counters.
func (s *Server) CRMStats() CRMStats {
	st := s.crm
	st.mu.Lock()
	defer st.mu.Unlock()
	out := st.stats
	out.Requests = maps.Clone(st.stats.Requests)
	out.Codes = maps.Clone(st.stats.Codes)
	return out
}

// CRMRecords returns copies of entity's records (archived ones included) in
// id order, or of those with externalID when it is not empty.
func (s *Server) CRMRecords(entity, externalID string) []CRMRecord {
	st := s.crm
	st.mu.Lock()
	defer st.mu.Unlock()
	e := st.entities[entity]
	if e == nil {
		return []CRMRecord{}
	}
	recs := e.recs
	if externalID != "" {
		recs = e.byExt[externalID]
	}
	out := make([]CRMRecord, len(recs))
	for i, r := range recs {
		out[i] = *r
	}
	return out
}

// CRMDuplicates returns the external ids of entity that more than one record
// carries (archived ones included), with how many do: empty when no client
// made a duplicate.
func (s *Server) CRMDuplicates(entity string) map[string]int {
	st := s.crm
	st.mu.Lock()
	defer st.mu.Unlock()
	out := map[string]int{}
	if e := st.entities[entity]; e != nil {
		for k, rs := range e.byExt {
			if len(rs) > 1 {
				out[k] = len(rs)
			}
		}
	}
	return out
}

// CRMSeed writes spec.Count generated records of spec.Entity straight into
// the crm store, without auth, faults or counting, the same records Seed
// makes for the built-in API: external_id SeedKey(Prefix, i), owner
// "acc-"+(i mod Accounts), fields SeedData(i). spec.Records is not taken.
func (s *Server) CRMSeed(spec SeedSpec) (int, error) {
	switch {
	case len(spec.Records) > 0:
		return 0, errors.New("the crm store is seeded by count only, not records")
	case spec.Count < 0 || spec.Count > maxSeed:
		return 0, fmt.Errorf("count must be 0 to %d", maxSeed)
	case spec.Count > 0 && !entityRe.MatchString(spec.Entity):
		return 0, errors.New("entity must match [a-z0-9_-]{1,64}")
	}
	if spec.Accounts <= 0 {
		spec.Accounts = 10
	}
	now := s.opts.Now()
	st := s.crm
	st.mu.Lock()
	defer st.mu.Unlock()
	for i := spec.Start; i < spec.Start+spec.Count; i++ {
		r := &CRMRecord{ExternalID: SeedKey(spec.Prefix, i), Owner: "acc-" + strconv.Itoa(i%spec.Accounts), Fields: SeedData(i), entity: spec.Entity}
		r.touch(now, false)
		if !st.add(r) {
			return i - spec.Start, errors.New("record store full")
		}
	}
	return spec.Count, nil
}

// handleCRMStats is GET /_sim/crm/stats.
func (s *Server) handleCRMStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.CRMStats())
}

// handleCRMRecords is GET /_sim/crm/records?entity=E[&external_id=K]:
// {"count":N,"live":M,"records":[…]} — every record of E, or those with K.
func (s *Server) handleCRMRecords(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	recs := s.CRMRecords(q.Get("entity"), q.Get("external_id"))
	live := 0
	for _, r := range recs {
		if !r.Archived {
			live++
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(recs), "live": live, "records": recs})
}

// handleCRMDuplicates is GET /_sim/crm/duplicates?entity=E.
func (s *Server) handleCRMDuplicates(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"duplicates": s.CRMDuplicates(r.URL.Query().Get("entity"))})
}

// handleCRMSeed is POST /_sim/crm/seed, body as /_sim/seed's generated run.
func (s *Server) handleCRMSeed(w http.ResponseWriter, r *http.Request) {
	var spec SeedSpec
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request", err.Error()))
		return
	}
	n, err := s.CRMSeed(spec)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request", err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"seeded": n})
}
