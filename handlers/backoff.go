package handlers

import (
	"math/rand/v2"
	"time"
)

// RetryPolicy is exponential backoff with jitter (docs/events.md: 1 s doubling
// to 5 min, at most 15 partner calls).
type RetryPolicy struct {
	Initial     time.Duration
	Max         time.Duration
	MaxAttempts int
	// Jitter returns a number in [0, 1); rand.Float64 when nil. Tests fix it.
	Jitter func() float64
}

// Backoff is the wait after the n-th failed attempt (n ≥ 1): Initial·2^(n-1),
// at most Max, spread by ±20% so that failures of one moment do not all come
// back in the same one.
func (p RetryPolicy) Backoff(n int) time.Duration {
	d := p.Initial
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	j := rand.Float64
	if p.Jitter != nil {
		j = p.Jitter
	}
	return time.Duration(float64(d) * (0.8 + 0.4*j()))
}
