package poll

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	errors, changes *prometheus.CounterVec
	age             *prometheus.GaugeVec
}

// newMetrics registers the pollers' metrics on reg (nil: none); pollers of
// several partners share them, told apart by the partner label.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamsync_poll_errors_total",
			Help: "Polls of a partner's entity that failed (partner down or refusing, a page that could not be read, Redis, the append); each is tried again at the next poll."},
			[]string{"partner", "entity"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamsync_poll_changes_total",
			Help: "Changes a poll read from a partner and appended to its inbound stream (the overlap's re-reads included: the ledger skips them as duplicates)."},
			[]string{"partner", "entity"}),
		age: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "streamsync_poll_cursor_age_seconds",
			Help: "How far behind the partner polling is: seconds since the start of the last listing of its changes that was read to its end. About poll.every when healthy; it grows while the partner is down or a listing takes several polls."},
			[]string{"partner", "entity"}),
	}
	if reg != nil {
		m.errors = register(reg, m.errors)
		m.changes = register(reg, m.changes)
		m.age = register(reg, m.age)
	}
	return m
}

// register registers c, or returns the collector registered already under
// its name (another partner's poller registered it).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if have, ok := are.ExistingCollector.(C); ok {
				return have
			}
		}
	}
	return c
}
