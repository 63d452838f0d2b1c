package partner

import (
	"errors"
	"time"

	"github.com/sony/gobreaker/v2"
)

// BreakerConfig shapes the circuit breaker that pauses delivery while the
// partner is down.
type BreakerConfig struct {
	// Window is the rolling window over which failures are counted (10s).
	Window time.Duration
	// MinRequests in the window before the breaker may open (20).
	MinRequests uint32
	// FailureRatio of transient failures in the window that opens it (0.6).
	FailureRatio float64
	// OpenFor is how long it stays open before a probe (2s).
	OpenFor time.Duration
	// Probes allowed at once while half-open (1).
	Probes uint32
	// PollInterval: how often a waiting delivery looks at the breaker (50ms).
	PollInterval time.Duration
}

func (b *BreakerConfig) setDefaults() {
	if b.Window <= 0 {
		b.Window = 10 * time.Second
	}
	if b.MinRequests == 0 {
		b.MinRequests = 20
	}
	if b.FailureRatio <= 0 {
		b.FailureRatio = 0.6
	}
	if b.OpenFor <= 0 {
		b.OpenFor = 2 * time.Second
	}
	if b.Probes == 0 {
		b.Probes = 1
	}
	if b.PollInterval <= 0 {
		b.PollInterval = 50 * time.Millisecond
	}
}

func (b BreakerConfig) maxProbes() uint32 { return b.Probes }

func newBreaker(b BreakerConfig, onChange func(from, to gobreaker.State)) *gobreaker.CircuitBreaker[Result] {
	return gobreaker.NewCircuitBreaker[Result](gobreaker.Settings{
		Name:         "partner",
		MaxRequests:  b.Probes,
		Interval:     b.Window,
		BucketPeriod: b.Window / 10,
		Timeout:      b.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.Requests >= b.MinRequests && float64(c.TotalFailures) >= b.FailureRatio*float64(c.Requests)
		},
		// Only transient failures say the partner is down; a 4xx is an answer.
		IsSuccessful:  func(err error) bool { return !errors.Is(err, errTransient) },
		IsExcluded:    func(err error) bool { return errors.Is(err, errAborted) },
		OnStateChange: func(_ string, from, to gobreaker.State) { onChange(from, to) },
	})
}
