package partnersim

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration that reads and writes JSON as "250ms".
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a string such as "250ms".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"250ms\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Faults are what the simulator does wrong on purpose. They apply to the
// record endpoints (/v1/…); Outage also fails the token endpoint.
type Faults struct {
	// Latency is added to every record request; Jitter adds up to that much more, at random.
	Latency Duration `json:"latency"`
	Jitter  Duration `json:"jitter"`
	// ErrorRate is the share (0–1) of record requests answered 503.
	ErrorRate float64 `json:"error_rate"`
	// Outage answers 503 to everything but /_sim and /healthz.
	Outage bool `json:"outage"`
	// Rate429 is the share (0–1) of record requests answered 429 with Retry-After.
	Rate429 float64 `json:"rate_429"`
	// RetryAfter is the Retry-After of a 429, in whole seconds (at least 1).
	RetryAfter Duration `json:"retry_after"`
	// RejectPrefix makes every PUT or DELETE of a key with this prefix a 422.
	RejectPrefix string `json:"reject_prefix"`
	// RefuseTokens answers every token request 401 invalid_client, as for a
	// wrong client secret.
	RefuseTokens bool `json:"refuse_tokens"`
	// CRM are the faults of the crm API only (crm_faults.go).
	CRM CRMFaults `json:"crm"`
}

// Validate reports a fault setting out of range.
func (f Faults) Validate() error {
	switch {
	case f.Latency < 0 || f.Jitter < 0 || f.RetryAfter < 0:
		return fmt.Errorf("latency, jitter and retry_after must not be negative")
	case f.ErrorRate < 0 || f.ErrorRate > 1:
		return fmt.Errorf("error_rate must be 0 to 1, is %g", f.ErrorRate)
	case f.Rate429 < 0 || f.Rate429 > 1:
		return fmt.Errorf("rate_429 must be 0 to 1, is %g", f.Rate429)
	}
	return f.CRM.Validate()
}

// retryAfterSeconds is the Retry-After header value.
func (f Faults) retryAfterSeconds() int {
	s := int((time.Duration(f.RetryAfter) + time.Second - 1) / time.Second)
	return max(s, 1)
}
