package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Reasons a webhook is refused: the reason label of
// streamsync_webhooks_refused_total and the start of a Recorder's reason.
const (
	ReasonUnknownPartner   = "unknown_partner"   // 404
	ReasonMissingSignature = "missing_signature" // 401: a header of the scheme is absent
	ReasonBadTimestamp     = "bad_timestamp"     // 401: not unix seconds
	ReasonStaleTimestamp   = "stale_timestamp"   // 401: further from now than the tolerance
	ReasonBadSignature     = "bad_signature"     // 401: no signature matches a secret
	ReasonBadWebhookID     = "bad_webhook_id"    // 400: longer than MaxIDBytes
	ReasonBodyTooLarge     = "body_too_large"    // 413
	ReasonBodyTooSlow      = "body_too_slow"     // 408
	ReasonUnmapped         = "unmapped"          // 400: verified, but the profile cannot map it
)

var reasons = []string{ReasonUnknownPartner, ReasonMissingSignature, ReasonBadTimestamp, ReasonStaleTimestamp,
	ReasonBadSignature, ReasonBadWebhookID, ReasonBodyTooLarge, ReasonBodyTooSlow, ReasonUnmapped}

// refusal is why a webhook is not taken: its reason label and what the
// partner is told.
type refusal struct {
	reason, detail string
}

func (r *refusal) Error() string { return r.reason + ": " + r.detail }

func refuse(reason, detail string) error { return &refusal{reason, detail} }

// verifier proves that a webhook comes from the partner. check looks at
// the headers alone, before the body is read (a webhook that cannot pass
// is refused unread); verify checks the signature over the body and gives
// the ref the webhook is known by for replays. Errors are *refusal.
type verifier interface {
	check(h http.Header, query string) error
	verify(r *http.Request, body []byte) (ref string, err error)
}

// standard verifies the Standard Webhooks scheme
// (https://www.standardwebhooks.com/): webhook-id, webhook-timestamp (unix
// seconds) and webhook-signature ("v1,<base64>" signatures separated by
// spaces), each signature the HMAC-SHA256 of "{id}.{timestamp}.{body}"
// under the key that follows "whsec_". The library computes and compares
// the signatures; the timestamp is judged here, on the injected clock,
// and every secret of a rotation is tried.
type standard struct {
	hooks     []*standardwebhooks.Webhook
	tolerance time.Duration
	now       func() time.Time
}

func newStandard(secrets []string, tolerance time.Duration, now func() time.Time) (*standard, error) {
	if len(secrets) == 0 {
		return nil, errors.New("secrets: at least one whsec_ secret is required for the standard scheme")
	}
	s := &standard{tolerance: tolerance, now: now}
	for i, sec := range secrets {
		if !strings.HasPrefix(sec, "whsec_") {
			return nil, fmt.Errorf("secrets[%d]: must be whsec_ followed by the key in base64", i)
		}
		wh, err := standardwebhooks.NewWebhook(sec)
		if err != nil { // the library's error says where the base64 broke, never the secret
			return nil, fmt.Errorf("secrets[%d]: must be whsec_ followed by the key in base64", i)
		}
		s.hooks = append(s.hooks, wh)
	}
	return s, nil
}

func (s *standard) check(h http.Header, _ string) error {
	id, ts, sig := h.Get(standardwebhooks.HeaderWebhookID), h.Get(standardwebhooks.HeaderWebhookTimestamp), h.Get(standardwebhooks.HeaderWebhookSignature)
	if id == "" || ts == "" || sig == "" {
		return refuse(ReasonMissingSignature, "webhook-id, webhook-timestamp and webhook-signature are required")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return refuse(ReasonBadTimestamp, "webhook-timestamp is not unix seconds")
	}
	return fresh(time.Unix(sec, 0), s.now(), s.tolerance)
}

func (s *standard) verify(r *http.Request, body []byte) (string, error) {
	if err := s.check(r.Header, ""); err != nil {
		return "", err
	}
	for _, wh := range s.hooks {
		if wh.VerifyIgnoringTimestamp(body, r.Header) == nil {
			return r.Header.Get(standardwebhooks.HeaderWebhookID), nil
		}
	}
	return "", refuse(ReasonBadSignature, "no signature matches")
}

// fresh refuses a timestamp further than tolerance from now, either way.
func fresh(ts, now time.Time, tolerance time.Duration) error {
	switch d := now.Sub(ts); {
	case d > tolerance:
		return refuse(ReasonStaleTimestamp, fmt.Sprintf("the timestamp is %s old, more than %s", d.Truncate(time.Second), tolerance))
	case -d > tolerance:
		return refuse(ReasonStaleTimestamp, fmt.Sprintf("the timestamp is %s ahead, more than %s", (-d).Truncate(time.Second), tolerance))
	}
	return nil
}
