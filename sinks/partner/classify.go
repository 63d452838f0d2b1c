package partner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Class is what a partner answer means for the event.
type Class int

// The classes of contract §2's answers.
const (
	// Delivered: 2xx, or 404 to a DELETE (already gone).
	Delivered Class = iota + 1
	// Stale: 409 stale_version; the partner has this version or a newer one.
	Stale
	// ParentMissing: 409 parent_missing; the child waits for its parent again.
	ParentMissing
	// Unauthorized: 401; the sink refreshes its token once and retries at once.
	Unauthorized
	// Transient: timeouts, connection errors, 5xx, 408 and 429; retried with backoff.
	Transient
	// Permanent: every other 4xx; the event is dead-lettered as rejected.
	Permanent
	// Aborted: the caller's context ended (shutdown); the event stays pending.
	Aborted
)

func (c Class) String() string {
	switch c {
	case Delivered:
		return "delivered"
	case Stale:
		return "stale"
	case ParentMissing:
		return "parent_missing"
	case Unauthorized:
		return "unauthorized"
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	case Aborted:
		return "aborted"
	}
	return "unknown"
}

// Verdict is a classified answer.
type Verdict struct {
	Class      Class
	RetryAfter time.Duration // from Retry-After on 429 and 5xx; 0 when absent
	Detail     string        // readable: status and the partner's error, or the transport error
}

// Classify turns one partner call's outcome into a Verdict: every answer of
// contract §2 in one place. err is the transport error (status is then 0);
// body is the start of the answer's body.
func Classify(method string, status int, hdr http.Header, body []byte, err error, now time.Time) Verdict {
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return Verdict{Class: Aborted, Detail: err.Error()}
		}
		return Verdict{Class: Transient, Detail: err.Error()}
	}
	code := errorCode(body)
	detail := fmt.Sprintf("%d %s", status, http.StatusText(status))
	if code != "" {
		detail += ": " + code
	} else if s := strings.TrimSpace(string(body)); s != "" && status >= 300 {
		detail += ": " + clip(s, 200)
	}
	if status >= 300 && status < 400 {
		// Never followed (the client is apiclient's): the answer is the redirect itself.
		detail += " to " + hdr.Get("Location") + " (redirects are not followed)"
	}
	switch {
	case status >= 200 && status < 300:
		return Verdict{Class: Delivered, Detail: detail}
	case status == http.StatusNotFound && method == http.MethodDelete:
		return Verdict{Class: Delivered, Detail: detail}
	case status == http.StatusConflict && code == "stale_version":
		return Verdict{Class: Stale, Detail: detail}
	case status == http.StatusConflict && code == "parent_missing":
		return Verdict{Class: ParentMissing, Detail: detail}
	case status == http.StatusUnauthorized:
		return Verdict{Class: Unauthorized, Detail: detail}
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500:
		return Verdict{Class: Transient, RetryAfter: retryAfter(hdr.Get("Retry-After"), now), Detail: detail}
	default:
		return Verdict{Class: Permanent, Detail: detail}
	}
}

// errorCode is the "error" field of a JSON error body.
func errorCode(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Error
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
