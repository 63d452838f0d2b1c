package partner

import (
	"sync"
	"time"
)

// BreakerConfig shapes the circuit breaker that pauses delivery while the
// partner is down (docs/partner-faults.md, "Partner down").
type BreakerConfig struct {
	// TripAfter consecutive transient failures open the breaker, however
	// many calls succeeded before (20). A token endpoint that refuses the
	// credentials opens it at once.
	TripAfter uint32
	// OpenFor is the least time between two probes while it is open (2s).
	// A Retry-After on any answer also holds the next probe back that long.
	OpenFor time.Duration
	// PollInterval: how often a waiting delivery looks at the breaker (50ms).
	PollInterval time.Duration
}

// Defaults of BreakerConfig.
const (
	DefaultTripAfter    = 20
	DefaultOpenFor      = 2 * time.Second
	DefaultPollInterval = 50 * time.Millisecond
)

func (b *BreakerConfig) setDefaults() {
	if b.TripAfter == 0 {
		b.TripAfter = DefaultTripAfter
	}
	if b.OpenFor <= 0 {
		b.OpenFor = DefaultOpenFor
	}
	if b.PollInterval <= 0 {
		b.PollInterval = DefaultPollInterval
	}
}

// BreakerState is the breaker's state; its value is the one the
// streamsync_partner_breaker_state gauge shows.
type BreakerState int

// Breaker states.
const (
	BreakerClosed   BreakerState = 0 // calls go through
	BreakerHalfOpen BreakerState = 1 // one probe is at the partner
	BreakerOpen     BreakerState = 2 // no calls; the next probe waits for its time
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	}
	return "unknown"
}

// outcome is what a call through the breaker came to.
type outcome int

const (
	answered outcome = iota // the partner gave an answer on the change (2xx, 4xx)
	failed                  // a transient failure: the partner looks down
	refused                 // the token endpoint refused the credentials
	cut                     // cut short by the caller (shutdown): says nothing
)

// breaker is a circuit breaker on an injected clock: closed until TripAfter
// consecutive failures; then open, letting one probe through at a time, at
// most one per OpenFor and none before a Retry-After has passed; a probe
// that gets an answer closes it, with a slow start (see rampMax). (sony/gobreaker reads the wall clock and
// cannot hold a probe for a Retry-After, hence this small one.)
type breaker struct {
	cfg      BreakerConfig
	now      func() time.Time
	onChange func(from, to BreakerState)

	mu       sync.Mutex
	state    BreakerState
	inflight int       // admitted calls not yet done
	ramp     int       // after an outage: calls allowed at once, growing by one per answer; 0: no limit
	fails    uint32    // consecutive failures while closed
	next     time.Time // while open: no probe before this
	hold     time.Time // no probe before this either: the latest Retry-After
	probing  bool
}

func newBreaker(cfg BreakerConfig, now func() time.Time, onChange func(from, to BreakerState)) *breaker {
	return &breaker{cfg: cfg, now: now, onChange: onChange}
}

// State is the breaker's state now.
func (b *breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// admit asks to make one call: ok tells whether it may go now, probe whether
// it is the one probe of an open breaker. An admitted probe must be ended
// with done.
func (b *breaker) admit() (probe, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == BreakerClosed {
		if b.ramp > 0 && b.inflight >= b.ramp {
			return false, false
		}
		b.inflight++
		return false, true
	}
	now := b.now()
	if b.probing || now.Before(b.next) || now.Before(b.hold) {
		return false, false
	}
	b.inflight++
	b.probing = true
	b.next = now.Add(b.cfg.OpenFor) // probes start at least OpenFor apart
	b.set(BreakerHalfOpen)
	return true, true
}

// done reports how an admitted call ended, and the answer's Retry-After.
func (b *breaker) done(probe bool, o outcome, retryAfter time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inflight--
	now := b.now()
	if retryAfter > 0 {
		if until := now.Add(retryAfter); until.After(b.hold) {
			b.hold = until
		}
	}
	if probe {
		b.probing = false
		switch o {
		case answered:
			b.fails, b.ramp = 0, 2
			b.set(BreakerClosed)
		case failed, refused:
			b.open(now)
		case cut:
			b.set(BreakerOpen) // the next probe keeps its time
		}
		return
	}
	if b.state != BreakerClosed {
		return // a call that started before the breaker opened
	}
	switch o {
	case answered:
		b.fails = 0
		if b.ramp > 0 {
			if b.ramp++; b.ramp > rampMax {
				b.ramp = 0
			}
		}
	case failed:
		if b.fails++; b.fails >= b.cfg.TripAfter {
			b.open(now)
		}
	case refused:
		b.open(now)
	}
}

// cancel gives back an admission whose call was not made (the delivery's
// Guard refused it): a probe that never went lets the next one go at once.
func (b *breaker) cancel(probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inflight--
	if probe {
		b.probing = false
		b.next = b.now()
		b.set(BreakerOpen)
	}
}

// rampMax: past this many calls at once after an outage, no limit. The
// ramp keeps the deliveries that waited out an outage from all reaching the
// partner at the same instant and tripping the breaker again (slow start:
// the limit grows by one per answer, so it doubles per round trip).
const rampMax = 1024

func (b *breaker) open(now time.Time) {
	if n := now.Add(b.cfg.OpenFor); n.After(b.next) {
		b.next = n
	}
	b.fails = 0
	b.set(BreakerOpen)
}

func (b *breaker) set(to BreakerState) {
	if from := b.state; from != to {
		b.state = to
		if b.onChange != nil {
			b.onChange(from, to)
		}
	}
}
