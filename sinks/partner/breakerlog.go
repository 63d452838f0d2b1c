package partner

import (
	"log/slog"
	"sync"
	"time"
)

// breakerLog turns the breaker's state changes into few log lines. While
// the partner is down the breaker goes open → half-open → open at every
// probe; only the first opening is a WARN, then one summary line at most
// every summaryEvery (probes failed, down since), and the closing an INFO.
// Each open/half-open flip is at DEBUG.
type breakerLog struct {
	log          *slog.Logger
	now          func() time.Time
	summaryEvery time.Duration

	mu         sync.Mutex
	downSince  time.Time // zero while closed
	lastReport time.Time
	probes     int // failed probes since the last line
}

// defaultBreakerSummary is how often an ongoing outage is summarised.
const defaultBreakerSummary = time.Minute

// change logs a move of the breaker from one state to another; lastErr is
// the last failure the partner gave, named when the breaker opens.
func (b *breakerLog) change(from, to BreakerState, lastErr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	switch {
	case to == BreakerOpen && b.downSince.IsZero():
		b.downSince, b.lastReport, b.probes = now, now, 0
		b.log.Warn("partner circuit breaker open: the partner fails; deliveries wait and probe it", "from", from.String(), "last_error", lastErr)
	case to == BreakerOpen:
		b.probes++
		b.log.Debug("partner circuit breaker", "from", from.String(), "to", to.String())
		if now.Sub(b.lastReport) >= b.summaryEvery {
			b.log.Warn("partner still failing; circuit breaker open", "down_for", now.Sub(b.downSince).Round(time.Second).String(),
				"failed_probes", b.probes)
			b.lastReport, b.probes = now, 0
		}
	case to == BreakerClosed && !b.downSince.IsZero():
		b.log.Info("partner circuit breaker closed: the partner answers again", "down_for", now.Sub(b.downSince).Round(time.Second).String())
		b.downSince = time.Time{}
	default:
		b.log.Debug("partner circuit breaker", "from", from.String(), "to", to.String())
	}
}
