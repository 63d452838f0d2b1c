package partnersim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// SeedSpec is the body of POST /_sim/seed: records written straight into the
// simulator, without tokens, idempotency keys or the request log — for tests
// and demos that need many records quickly. Either Records, or a generated
// run of Count records: key Prefix+i (i zero-padded to 9 digits, from
// Start), account "acc-"+(i mod Accounts), version Version, data
// {"i":i,"name":"record i"} — the same parameters give the same records, so
// two simulators seeded alike hold equal sides.
type SeedSpec struct {
	Records  []RecordState `json:"records,omitempty"`
	Entity   string        `json:"entity,omitempty"`
	Count    int           `json:"count,omitempty"`
	Start    int           `json:"start,omitempty"`
	Prefix   string        `json:"prefix,omitempty"`
	Accounts int           `json:"accounts,omitempty"`
	Version  int64         `json:"version,omitempty"`
}

// maxSeed bounds one generated seed call.
const maxSeed = 10_000_000

// SeedKey is the key of the i-th generated record.
func SeedKey(prefix string, i int) string { return fmt.Sprintf("%s%09d", prefix, i) }

// SeedData is the data of the i-th generated record.
func SeedData(i int) json.RawMessage {
	return json.RawMessage(`{"i":` + strconv.Itoa(i) + `,"name":"record ` + strconv.Itoa(i) + `"}`)
}

// Seed writes the records of spec and returns how many it wrote.
func (s *Server) Seed(spec SeedSpec) (int, error) {
	if spec.Count < 0 || spec.Count > maxSeed {
		return 0, fmt.Errorf("count must be 0 to %d", maxSeed)
	}
	if spec.Count > 0 && !entityRe.MatchString(spec.Entity) {
		return 0, errors.New("entity must match [a-z0-9_-]{1,64}")
	}
	for _, r := range spec.Records {
		if !entityRe.MatchString(r.Entity) || r.Key == "" || r.Account == "" || r.Version <= 0 || !r.Deleted && (len(r.Data) == 0 || r.Data[0] != '{') {
			return 0, fmt.Errorf("record %s/%s: needs entity, key, account, a version > 0 and object data", r.Entity, r.Key)
		}
	}
	if spec.Accounts <= 0 {
		spec.Accounts = 10
	}
	if spec.Version <= 0 {
		spec.Version = 1
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	newKeys := map[string][]string{}
	put := func(id recordID, rec *record) {
		if _, ok := s.records[id]; !ok {
			newKeys[id.entity] = append(newKeys[id.entity], id.key)
		}
		s.records[id] = rec
	}
	for _, r := range spec.Records {
		put(recordID{r.Entity, r.Key}, &record{Account: r.Account, Version: r.Version, Data: r.Data, Parent: r.Parent, Deleted: r.Deleted, UpdatedAt: now})
	}
	for i := spec.Start; i < spec.Start+spec.Count; i++ {
		put(recordID{spec.Entity, SeedKey(spec.Prefix, i)},
			&record{Account: "acc-" + strconv.Itoa(i%spec.Accounts), Version: spec.Version, Data: SeedData(i), UpdatedAt: now})
	}
	for e, keys := range newKeys {
		s.index(e).addMany(keys)
	}
	return len(spec.Records) + spec.Count, nil
}

func (s *Server) handleSeed(w http.ResponseWriter, r *http.Request) {
	var spec SeedSpec
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<30))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request", err.Error()))
		return
	}
	n, err := s.Seed(spec)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request", err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"seeded": n})
}
