package partnersim

import (
	"cmp"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// LogEntry is one PUT or DELETE the simulator answered.
type LogEntry struct {
	Seq            int64  `json:"seq"`
	AtUS           int64  `json:"at_us"`   // arrival, unix µs
	DoneUS         int64  `json:"done_us"` // answer, unix µs
	Method         string `json:"method"`
	Entity         string `json:"entity"`
	Key            string `json:"key"`
	Account        string `json:"account"`
	Version        int64  `json:"version"`
	IdempotencyKey string `json:"idempotency_key"`
	Status         int    `json:"status"`
}

// RecordState is one record as /_sim/state shows it; Deleted records are
// tombstones that keep their last version.
type RecordState struct {
	Entity  string          `json:"entity"`
	Key     string          `json:"key"`
	Account string          `json:"account"`
	Version int64           `json:"version"`
	Data    json.RawMessage `json:"data,omitempty"`
	Parent  *Ref            `json:"parent,omitempty"`
	Deleted bool            `json:"deleted,omitempty"`
	// UpdatedAt is when the record was last written (its updated_at).
	UpdatedAt time.Time `json:"updated_at"`
}

// State is what /_sim/state answers.
type State struct {
	Records []RecordState `json:"records"`
	Stats   Stats         `json:"stats"`
	// CRM are the crm API's counters (GET /_sim/crm/stats); Echo the echo's.
	CRM  CRMStats  `json:"crm"`
	Echo EchoStats `json:"echo"`
}

func (s *Server) logRequest(e LogEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logSeq++
	e.Seq = s.logSeq
	s.log = append(s.log, e)
	if len(s.log) > s.opts.LogMax {
		s.log = slices.Delete(s.log, 0, len(s.log)-s.opts.LogMax)
	}
}

// Snapshot returns the records (of one account, or all when account is
// empty) in entity/key order, and the counters.
func (s *Server) Snapshot(account string) State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{Records: []RecordState{}, Stats: s.stats}
	st.Stats.ByStatus = maps.Clone(s.stats.ByStatus)
	st.Stats.ByRoute = maps.Clone(s.stats.ByRoute)
	st.CRM = s.CRMStats()
	if s.echo != nil {
		st.Echo = s.echo.stats()
	}
	st.Stats.OverlapsByAccount = maps.Clone(s.stats.OverlapsByAccount)
	for _, n := range s.inFlight {
		st.Stats.InFlight += n
	}
	for id, r := range s.records {
		if account != "" && r.Account != account {
			continue
		}
		st.Records = append(st.Records, RecordState{Entity: id.entity, Key: id.key, Account: r.Account, Version: r.Version, Data: r.Data, Parent: r.Parent, Deleted: r.Deleted, UpdatedAt: r.UpdatedAt})
	}
	slices.SortFunc(st.Records, func(a, b RecordState) int {
		if c := cmp.Compare(a.Entity, b.Entity); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return st
}

// Log returns up to limit entries with a sequence number above since.
func (s *Server) Log(since int64, limit int) []LogEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, _ := slices.BinarySearchFunc(s.log, since+1, func(e LogEntry, seq int64) int { return cmp.Compare(e.Seq, seq) })
	end := len(s.log)
	if limit > 0 && i+limit < end {
		end = i + limit
	}
	return slices.Clone(s.log[i:end])
}

func (s *Server) handleState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Snapshot(r.URL.Query().Get("account")))
}

// handleLog is GET /_sim/log?since=SEQ&limit=N; next is the since of the
// following call.
func (s *Server) handleLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, _ := strconv.ParseInt(q.Get("since"), 10, 64)
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 {
		limit = 10000
	}
	entries := s.Log(since, limit)
	next := since
	if len(entries) > 0 {
		next = entries[len(entries)-1].Seq
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries, "next": next})
}

func (s *Server) handleGetFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

// handleSetFaults merges the fields of the body into the faults in force.
func (s *Server) handleSetFaults(w http.ResponseWriter, r *http.Request) {
	f := s.Faults()
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request", err.Error()))
		return
	}
	if err := s.SetFaults(f); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request", err.Error()))
		return
	}
	s.opts.Logger.Info("faults changed", "faults", string(mustJSON(f)))
	writeJSON(w, http.StatusOK, f)
}

// handleReset forgets every record, token, key, log entry and counter, and
// restores the start-up faults.
func (s *Server) handleReset(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	s.resetLocked()
	s.faults = s.opts.Faults
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"status": "reset"})
}
