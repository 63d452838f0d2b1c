package loadtest

import (
	"encoding/json"
	"slices"
	"strings"
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

// refusal is what a refused request's answer says, without the event ids,
// so that refusals of one kind count together: the status and each error's
// reason ("400 Bad Request: version: required"), or the answer clipped when
// it is not the ingest's error JSON.
func refusal(answer string) string {
	i := strings.IndexByte(answer, '{')
	var body struct {
		Errors []struct {
			Reason string `json:"reason"`
		} `json:"errors"`
	}
	if i < 0 || json.Unmarshal([]byte(answer[i:]), &body) != nil || len(body.Errors) == 0 {
		return clip(answer, 80)
	}
	reasons := make([]string, len(body.Errors))
	for j, e := range body.Errors {
		reasons[j] = e.Reason
	}
	return clip(strings.TrimSpace(answer[:i])+": "+strings.Join(reasons, "; "), 160)
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
			v.RefusedReasons[refusal(s.Reason)]++
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
