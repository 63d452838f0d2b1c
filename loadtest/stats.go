package loadtest

import (
	"slices"
	"time"
)

// Percentiles of a set of durations.
type Percentiles struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

// Percentile computes p50, p90, p99 and max.
func Percentile(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[int(q*float64(len(s)-1))] }
	return Percentiles{N: len(s), P50: at(0.5), P90: at(0.9), P99: at(0.99), Max: s[len(s)-1]}
}

// Arrival is an event's first 2xx (or 404 to a delete) at the partner.
type Arrival struct {
	ID string
	At time.Time
}

// Verdict accounts for every event a run sent.
type Verdict struct {
	Sent, Accepted, Refused int
	Delivered, Skipped      int
	Dead, Invalid           int
	Missing                 []string // accepted events with no terminal step: lost
	RefusedReasons          map[string]int
}

// OK reports a zero-loss run: every accepted event ended delivered, skipped
// or dead with a reason, and every refused one was told why.
func (v Verdict) OK() bool { return len(v.Missing) == 0 }

// Account builds the verdict from what was sent and the attempt log's steps.
func Account(sent []Sent, steps map[string][]string) Verdict {
	v := Verdict{Sent: len(sent), RefusedReasons: map[string]int{}}
	for _, s := range sent {
		if !s.Accepted {
			v.Refused++
			v.RefusedReasons[clip(s.Reason, 80)]++
			continue
		}
		v.Accepted++
		switch terminal(steps[s.ID]) {
		case "delivered":
			v.Delivered++
		case "skipped":
			v.Skipped++
		case "dead":
			v.Dead++
		case "invalid":
			v.Invalid++
		default:
			v.Missing = append(v.Missing, s.ID)
		}
	}
	return v
}

// terminal is how a chain's steps ended: delivered, skipped, dead, invalid, or "".
func terminal(steps []string) string {
	out := ""
	for _, s := range steps {
		switch {
		case s == "delivered" || s == "dead" || s == "invalid":
			out = s
		case len(s) > 8 && s[:8] == "skipped_":
			out = "skipped"
		}
	}
	return out
}
