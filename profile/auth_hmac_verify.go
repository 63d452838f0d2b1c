package profile

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Why VerifyHMAC refuses a request.
var (
	// ErrHMACMissing: the signature, or the timestamp or nonce it covers, is
	// not where auth.hmac puts it.
	ErrHMACMissing = errors.New("the request is not signed as auth.hmac signs")
	// ErrHMACTimestamp: the timestamp is not of auth.hmac.timestamp's form.
	ErrHMACTimestamp = errors.New("the timestamp is not of auth.hmac.timestamp's form")
	// ErrHMACStale: the timestamp is further from now than the tolerance.
	ErrHMACStale = errors.New("the timestamp is too far from now")
	// ErrHMACMismatch: the signature is not the one the secret gives.
	ErrHMACMismatch = errors.New("the signature does not match")
)

// VerifyHMAC checks a request signed the way the profile's auth.hmac signs
// its own calls (docs/partners.md, "Webhooks from a partner"): the string
// to sign is composed from r (its method, escaped path, query without the
// signature's parameter, sorted as when signing), body, the app key and
// secret, and the timestamp and nonce read from the header or query
// parameter auth.hmac puts "{timestamp}" and "{nonce}" in; it is hashed
// and encoded as when signing and compared, in constant time, with the
// signature in sign_header or sign_query. The timestamp must be within
// tolerance of now, either way. ref is what the request is known by for
// replays: its webhook-id header, else its nonce, else its signature.
// Errors wrap ErrHMACMissing, ErrHMACTimestamp, ErrHMACStale or
// ErrHMACMismatch and never hold a secret.
func (p *Profile) VerifyHMAC(r *http.Request, body []byte, now time.Time, tolerance time.Duration) (ref string, err error) {
	if p.auth == nil || p.auth.hmac == nil {
		return "", fmt.Errorf("profile %s: auth is not hmac: %w", p.Name, ErrHMACMissing)
	}
	h := p.auth.hmac
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", fmt.Errorf("the query: %w", ErrHMACMissing)
	}
	sig := r.Header.Get(h.SignHeader)
	if h.SignHeader == "" {
		sig = q.Get(h.SignQuery)
		q.Del(h.SignQuery)
	}
	ts, tsAt := h.carried(r, q, "timestamp")
	nonce, nonceAt := h.carried(r, q, "nonce")
	switch {
	case sig == "":
		return "", fmt.Errorf("no signature: %w", ErrHMACMissing)
	case tsAt == "":
		return "", fmt.Errorf("auth.hmac sends no {timestamp} in a header or query parameter of its own, so a webhook's age cannot be told: %w", ErrHMACMissing)
	case ts == "":
		return "", fmt.Errorf("no timestamp in %s: %w", tsAt, ErrHMACMissing)
	case nonceAt != "" && nonce == "":
		return "", fmt.Errorf("no nonce in %s: %w", nonceAt, ErrHMACMissing)
	}
	at, err := parseTimestamp(h.Timestamp, ts)
	if err != nil {
		return "", fmt.Errorf("%s: %w", tsAt, ErrHMACTimestamp)
	}
	if d := now.Sub(at); d > tolerance || -d > tolerance {
		return "", fmt.Errorf("the timestamp is %s from now, more than %s: %w", d.Truncate(time.Second), tolerance, ErrHMACStale)
	}
	vals := h.values(r, body, ts, nonce)
	vals["query"] = canonicalQuery(q)
	if want := h.signature(fillNames(h.StringToSign, vals)); !hmac.Equal([]byte(want), []byte(sig)) {
		return "", ErrHMACMismatch
	}
	switch {
	case r.Header.Get("webhook-id") != "":
		return r.Header.Get("webhook-id"), nil
	case nonce != "":
		return nonce, nil
	}
	return sig, nil
}

// carried is the value of the placeholder name ("timestamp", "nonce") as
// the request carries it: in the header or query parameter whose value
// auth.hmac makes exactly "{name}". at names where ("header X-Ts"); ""
// when auth.hmac sends it nowhere. A query parameter found is removed from
// q only if it is the signature's (it is signed like any other).
func (h *compiledHMAC) carried(r *http.Request, q url.Values, name string) (v, at string) {
	ph := "{" + name + "}"
	for _, k := range sortedKeys(h.Headers) {
		if h.Headers[k] == ph {
			return r.Header.Get(k), "header " + k
		}
	}
	for _, k := range sortedKeys(h.Query) {
		if h.Query[k] == ph {
			return q.Get(k), "query parameter " + k
		}
	}
	return "", ""
}

// carriesTimestamp reports whether auth.hmac sends {timestamp} alone in a
// header or query parameter, so that an incoming request's age is known.
func (h *compiledHMAC) carriesTimestamp() bool {
	_, at := h.carried(&http.Request{Header: http.Header{}}, url.Values{}, "timestamp")
	return at != ""
}

// parseTimestamp reads a timestamp of form (unix, unix_ms, rfc3339).
func parseTimestamp(form, s string) (time.Time, error) {
	switch form {
	case "rfc3339":
		return time.Parse(time.RFC3339, s)
	case "unix_ms":
		ms, err := strconv.ParseInt(s, 10, 64)
		return time.UnixMilli(ms), err
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	return time.Unix(sec, 0), err
}

// CanVerifyHMAC reports whether VerifyHMAC can verify a request: the
// profile's auth is hmac and sends {timestamp} alone in a header or query
// parameter.
func (p *Profile) CanVerifyHMAC() bool {
	return p.auth != nil && p.auth.hmac != nil && p.auth.hmac.carriesTimestamp()
}
