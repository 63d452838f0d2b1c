package partnersim

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// IdempotencyHeader carries the event id.
const IdempotencyHeader = "Idempotency-Key"

type mutation struct {
	method  string
	id      recordID
	account string
	version int64
	body    []byte // what makes two requests under one key the same request
}

type idemAnswer struct {
	fingerprint [32]byte
	status      int
	body        []byte
}

// injectLatency takes the faults as they stand and a roll of the dice for
// them, and waits the injected latency (and jitter); ok is false when the
// client went away meanwhile.
func (s *Server) injectLatency(r *http.Request) (f Faults, roll float64, ok bool) {
	s.mu.Lock()
	f = s.faults
	delay := time.Duration(f.Latency)
	if f.Jitter > 0 {
		delay += time.Duration(s.rng.Int64N(int64(f.Jitter)))
	}
	roll = s.rng.Float64()
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return f, roll, false
		}
	}
	return f, roll, true
}

// mutate runs a PUT or DELETE: it counts overlapping requests of one
// account, waits the injected latency, injects the faults, answers a
// repeated Idempotency-Key from memory, else applies the change, and logs
// the request. apply runs under the lock.
func (s *Server) mutate(w http.ResponseWriter, r *http.Request, m mutation, apply func(now time.Time) (int, any)) {
	arrival := s.opts.Now()
	s.enter(m.account)
	defer s.leave(m.account)

	f, roll, ok := s.injectLatency(r)
	if !ok {
		return
	}

	status, body, hdr := 0, []byte(nil), http.Header{}
	switch {
	case roll < f.ErrorRate:
		status, body = http.StatusServiceUnavailable, mustJSON(errBody("unavailable", "injected error"))
	case roll < f.ErrorRate+f.Rate429:
		status, body = http.StatusTooManyRequests, mustJSON(errBody("rate_limited", "injected 429"))
		hdr.Set("Retry-After", strconv.Itoa(f.retryAfterSeconds()))
	case f.RejectPrefix != "" && strings.HasPrefix(m.id.key, f.RejectPrefix):
		status, body = http.StatusUnprocessableEntity, mustJSON(errBody("rejected", "key prefix "+f.RejectPrefix+" is refused"))
	default:
		status, body = s.applyOnce(r.Header.Get(IdempotencyHeader), m, apply, hdr)
	}
	for k, v := range hdr {
		w.Header()[k] = v
	}
	if body != nil {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
	s.logRequest(LogEntry{
		AtUS: arrival.UnixMicro(), DoneUS: s.opts.Now().UnixMicro(), Method: m.method, Entity: m.id.entity, Key: m.id.key,
		Account: m.account, Version: m.version, IdempotencyKey: r.Header.Get(IdempotencyHeader), Status: status,
	})
}

// applyOnce answers a remembered key from memory, refuses a key reused for a
// different request, and otherwise applies the change, remembering a 2xx.
func (s *Server) applyOnce(key string, m mutation, apply func(time.Time) (int, any), hdr http.Header) (int, []byte) {
	fp := sha256.Sum256([]byte(m.method + "\n" + m.id.entity + "\n" + m.id.key + "\n" + string(m.body)))
	s.mu.Lock()
	defer s.mu.Unlock()
	if key != "" {
		if a, ok := s.idem[key]; ok {
			if a.fingerprint != fp {
				return http.StatusUnprocessableEntity, mustJSON(errBody("idempotency_mismatch", "this Idempotency-Key was used for a different request"))
			}
			s.stats.IdempotentReplays++
			hdr.Set("Idempotent-Replayed", "true")
			return a.status, a.body
		}
	}
	status, v := apply(s.opts.Now())
	var body []byte
	if v != nil {
		body = mustJSON(v)
	}
	if key != "" && status >= 200 && status < 300 {
		s.idem[key] = idemAnswer{fingerprint: fp, status: status, body: body}
		s.idemFIFO = append(s.idemFIFO, key)
		if len(s.idemFIFO) > s.opts.IdemMax {
			delete(s.idem, s.idemFIFO[0])
			s.idemFIFO = s.idemFIFO[1:]
		}
	}
	return status, body
}

// enter counts a write of account as in flight. A DELETE of a record the
// simulator does not have names no account, and is not counted.
func (s *Server) enter(account string) {
	if account == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight[account] > 0 {
		s.stats.Overlaps++
		s.stats.OverlapsByAccount[account]++
	}
	s.inFlight[account]++
}

func (s *Server) leave(account string) {
	if account == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight[account]--; s.inFlight[account] <= 0 {
		delete(s.inFlight, account)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(fmt.Sprintf(`{"error":"internal","detail":%q}`, err.Error()))
	}
	return b
}
