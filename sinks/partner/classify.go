package partner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/streamsync/streamsync/internal/apiclient"
	"github.com/streamsync/streamsync/internal/delivery"
	"golang.org/x/oauth2"
)

// maxRetryAfter bounds a Retry-After so that a absurd value cannot overflow.
const maxRetryAfter = 24 * time.Hour

// Classify turns one partner call's outcome into a delivery.Answer (its
// Class, RetryAfter and Detail; the caller adds status, latency and calls):
// every answer of docs/partner-api.md in one place. Only the answer to the request
// streamsync sent counts (docs/events.md, "what counts as the partner's
// answer"): the client never follows a redirect, so status is the
// partner's status for our request.
//
// err is the transport error (status is then 0), or, with a status, the
// error that cut the answer's body short: an answer not read to its end is
// not trusted (Transient; the Idempotency-Key makes sending again harmless).
// body is what was read of the answer's body: all of it, or its first
// apiclient.MaxAnswer bytes (body.Over), in which the error code is looked
// for field by field — a code read whole decides, wherever it stands; only
// the Detail is clipped.
func Classify(method string, status int, hdr http.Header, answer apiclient.Body, err error, now time.Time) delivery.Answer {
	body := answer.Bytes
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return delivery.Answer{Class: delivery.Aborted, Detail: err.Error()}
		}
		if status != 0 {
			if errors.Is(err, apiclient.ErrAnswerCut) {
				return delivery.Answer{Class: delivery.Transient, Detail: fmt.Sprintf("%d %s, %v", status, http.StatusText(status), err)}
			}
			return delivery.Answer{Class: delivery.Transient, Detail: fmt.Sprintf("%d %s, answer cut short: %v", status, http.StatusText(status), err)}
		}
		return delivery.Answer{Class: delivery.Transient, Detail: err.Error()}
	}
	if hdr == nil {
		hdr = http.Header{}
	}
	ra := retryAfter(hdr.Get("Retry-After"), now)
	code := ""
	if status < 200 || status >= 300 { // a success's body is not read for an error code
		code, _ = apiclient.JSONString(answer, "error")
	}
	detail := fmt.Sprintf("%d %s", status, http.StatusText(status))
	if status >= 300 && status < 400 {
		detail += ": redirect not followed, " + location(hdr)
	}
	if code != "" {
		detail += ": " + code
	} else if s := strings.TrimSpace(string(body[:min(len(body), 1024)])); s != "" && status >= 300 {
		detail += ": " + clip(s, 200)
	}
	if answer.Over && code == "" && status >= 300 {
		detail += fmt.Sprintf(" (answer over %d KiB, no error code in its first %d KiB)", apiclient.MaxAnswer>>10, apiclient.MaxAnswer>>10)
	}
	v := delivery.Answer{RetryAfter: ra, Detail: detail}
	switch {
	case status < 100 || status > 599:
		v.Class, v.Detail = delivery.Transient, fmt.Sprintf("status %d is not an HTTP answer: %s", status, clip(strings.TrimSpace(string(body[:min(len(body), 1024)])), 200))
	case status < 200:
		v.Class, v.Detail = delivery.Transient, detail+": not a final answer"
	case status < 300:
		v.Class = delivery.Delivered
	case status < 400:
		v.Class = delivery.Permanent
	case status == http.StatusNotFound && method == http.MethodDelete:
		v.Class = delivery.Delivered
	case status == http.StatusConflict && code == "stale_version":
		v.Class = delivery.Stale
	case status == http.StatusConflict && code == "parent_missing":
		v.Class = delivery.ParentMissing
	case status == http.StatusUnauthorized:
		v.Class = delivery.Unauthorized
	case status == http.StatusProxyAuthRequired || status == http.StatusMisdirectedRequest:
		v.Class, v.Detail = delivery.Transient, detail+" (from a proxy or another server, not the partner's answer)"
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status == http.StatusTooEarly || status >= 500:
		v.Class = delivery.Transient
	default:
		v.Class = delivery.Permanent
	}
	return v
}

// ClassifyToken judges a failed token request (the token path of contract
// docs/events.md "partner down"): the caller's context ending is Aborted; a transport
// error, an answer cut short, or a 5xx, 408, 425 or 429 from the token
// endpoint is Transient; any other answer — 4xx (bad credentials), a
// redirect (never followed), a 2xx without a token — is AuthRefused, whose
// Detail names the endpoint's status and the start of its body.
func ClassifyToken(err error, now time.Time) delivery.Answer {
	if errors.Is(err, context.Canceled) {
		return delivery.Answer{Class: delivery.Aborted, Detail: err.Error()}
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		status := re.Response.StatusCode
		detail := fmt.Sprintf("token endpoint answered %d %s", status, http.StatusText(status))
		if status >= 300 && status < 400 {
			detail += " (redirect not followed, " + location(re.Response.Header) + ")"
		}
		if s := strings.TrimSpace(string(re.Body)); s != "" {
			detail += ": " + clip(s, 200)
		}
		v := delivery.Answer{Class: delivery.AuthRefused, RetryAfter: retryAfter(re.Response.Header.Get("Retry-After"), now), Detail: detail}
		switch {
		case status >= 500, status < 200, status == http.StatusTooManyRequests, status == http.StatusRequestTimeout, status == http.StatusTooEarly:
			v.Class = delivery.Transient
		}
		return v
	}
	var ue *url.Error
	if errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "cannot fetch token") {
		return delivery.Answer{Class: delivery.Transient, Detail: err.Error()} // no answer, or one cut short
	}
	// The endpoint answered 2xx with something that is not a token.
	return delivery.Answer{Class: delivery.AuthRefused, Detail: "token endpoint answered without a token: " + err.Error()}
}

// location names the Location header of a redirect.
func location(h http.Header) string {
	if l := h.Get("Location"); l != "" {
		return "Location: " + clip(l, 200)
	}
	return "no Location"
}

// retryAfter reads Retry-After as seconds or an HTTP date, at most a day.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return min(time.Duration(min(s, int64(maxRetryAfter/time.Second)))*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// clip keeps at most n bytes of s, whole characters only, marking a cut
// with "…": what is stored of an answer (dead_error, an attempt row, a log
// line) stays short and valid UTF-8.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
