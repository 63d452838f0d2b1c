package partnersim

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// CRMFaults are the faults of the crm API only, set with the others through
// /_sim/faults as {"crm":{…}} (fields merge like the others'). The counts
// go down as they are used; GET /_sim/faults shows what is left. The
// built-in faults apply to the crm API too: latency and jitter (before the
// change), error_rate (503), rate_429 (answered {"code":42900}), outage
// (503) and reject_prefix (an external_id with the prefix is refused 40000).
type CRMFaults struct {
	// DropCreates: the next N creates (POST /crm/v2/{entity}) that make a
	// record are applied, then the connection is closed without an answer.
	DropCreates int `json:"drop_creates"`
	// HangBulk: the next N batch_upsert calls are applied, then the answer is
	// held until the client gives up (at most 2 minutes) and the connection
	// is closed.
	HangBulk int `json:"hang_bulk"`
	// AnswerDelay holds every crm answer this long after the change is applied.
	AnswerDelay Duration `json:"answer_delay"`
	// RateLimitNext: the next N crm calls are answered {"code":42900}.
	RateLimitNext int `json:"rate_limit_next"`
	// ShufflePages shuffles the items within each list page (the pages hold
	// the same records; only their order within a page is unstable).
	ShufflePages bool `json:"shuffle_pages"`
}

// Validate reports a negative count or delay.
func (f CRMFaults) Validate() error {
	if f.DropCreates < 0 || f.HangBulk < 0 || f.RateLimitNext < 0 || f.AnswerDelay < 0 {
		return errors.New("crm drop_creates, hang_bulk, rate_limit_next and answer_delay must not be negative")
	}
	return nil
}

// rateInfo is what the X-RateLimit-* headers of one call say.
type rateInfo struct {
	limit, remaining int
	reset            int64 // unix seconds
}

// crmBefore takes the faults that act before a call is handled: the
// latency to wait, and a refusal — rate limited (the window is used up, a
// forced rate_limit_next, or a rate_429 roll: 42900) or an error_rate roll
// (503). It also sets the call's rate-limit header values.
func (s *Server) crmBefore(c *crmCall) (time.Duration, crmAnswer, bool) {
	s.mu.Lock()
	f := s.faults
	delay := time.Duration(f.Latency)
	if f.Jitter > 0 {
		delay += time.Duration(s.rng.Int64N(int64(f.Jitter)))
	}
	roll := s.rng.Float64()
	forced := s.faults.CRM.RateLimitNext > 0
	if forced {
		s.faults.CRM.RateLimitNext--
	}
	s.mu.Unlock()
	now := s.opts.Now()
	var over bool
	c.rate, over = s.crm.take(now)
	switch {
	case roll < f.ErrorRate:
		return 0, crmFault(CRMCodeUnavailable, "injected error"), true
	case forced || roll < f.ErrorRate+f.Rate429:
		c.rate.remaining, c.rate.reset = 0, now.Unix()+int64(f.retryAfterSeconds())
		return 0, crmErr(CRMCodeRateLimited, "slow down"), true
	case over:
		return 0, crmErr(CRMCodeRateLimited, "slow down"), true
	}
	return delay, crmAnswer{}, false
}

// crmAfter takes the faults that act once the change is applied: a dropped
// create, a hung bulk call, and the answer delay.
func (s *Server) crmAfter(c *crmCall, a crmAnswer) crmAnswer {
	s.mu.Lock()
	cf := &s.faults.CRM
	if a.create && cf.DropCreates > 0 {
		cf.DropCreates--
		a.drop = true
	}
	if a.bulk && cf.HangBulk > 0 {
		cf.HangBulk--
		a.hang = true
	}
	delay := time.Duration(cf.AnswerDelay)
	s.mu.Unlock()
	if !a.drop && !a.hang && !s.crmWait(c.r, delay) {
		a.drop = true
	}
	return a
}

// crmWait waits d, or less when the client goes away (then it is false).
func (s *Server) crmWait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// crmAbort closes the connection without an answer; a hung call first waits
// for the client to give up. It does not return.
func (s *Server) crmAbort(r *http.Request, a crmAnswer) {
	s.crm.countAborted()
	if a.hang {
		s.crmWait(r, crmHangMax)
	}
	panic(http.ErrAbortHandler)
}

// crmRateHeaders are the X-RateLimit-* headers of a call; a call refused
// before the limiter (outage, bad body, auth) shows the window unchanged.
func (s *Server) crmRateHeaders(c *crmCall) http.Header {
	ri := c.rate
	if ri.limit == 0 {
		ri = s.crm.peek(s.opts.Now())
	}
	return http.Header{
		"X-Ratelimit-Limit":     {strconv.Itoa(ri.limit)},
		"X-Ratelimit-Remaining": {strconv.Itoa(ri.remaining)},
		"X-Ratelimit-Reset":     {strconv.FormatInt(ri.reset, 10)},
	}
}
