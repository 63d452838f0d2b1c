package apiclient

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
)

// Redacted replaces a secret in text that leaves the process: an error, a
// log line, `streamsync status`, the attempt log (docs/security.md,
// "Secrets").
const Redacted = "<redacted>"

// MinSecretLen: a secret shorter than this is not searched for in text, as
// it would match ordinary words; a real secret is longer.
const MinSecretLen = 8

// minCut: the start of a secret at the end of a text clipped to a length
// is replaced when it is at least this long.
const minCut = 4

// Scrub returns s with every secret in it replaced by Redacted, in the
// forms an answer may echo it in: as it is, URL-escaped (a form body or a
// query), JSON-escaped, and base64 in an HTTP Basic credential (pairs
// "id:secret" are given as such by the caller). A secret cut off by a clip
// at the end of s ("…" or not) is replaced too.
func Scrub(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) < MinSecretLen {
			continue
		}
		for _, f := range formsOf(sec) {
			if strings.Contains(s, f) {
				s = strings.ReplaceAll(s, f, Redacted)
			}
			s = scrubCut(s, f)
		}
	}
	return s
}

// scrubCut replaces the start of f (minCut bytes or more) at the end of s,
// before a trailing "…".
func scrubCut(s, f string) string {
	body, tail := s, ""
	if t, ok := strings.CutSuffix(s, "…"); ok {
		body, tail = t, "…"
	}
	for k := len(f) - 1; k >= minCut; k-- {
		if strings.HasSuffix(body, f[:k]) {
			return body[:len(body)-k] + Redacted + tail
		}
	}
	return s
}

// formsMemo keeps each secret's forms, so that Scrub works them out (JSON,
// base64, escapes) once per secret instead of on every call: the partner
// sink scrubs the detail of every answer, and this showed in its profile.
// It holds at most maxFormsMemo secrets (tokens are replaced as they
// expire) and is emptied when it would hold more.
var (
	formsMemo  sync.Map // secret → []string, read only once stored
	formsMemoN atomic.Int64
)

const maxFormsMemo = 64

// formsOf is forms(sec), from formsMemo when it has it. The slice is
// shared: callers only read it.
func formsOf(sec string) []string {
	if f, ok := formsMemo.Load(sec); ok {
		return f.([]string)
	}
	f := forms(sec)
	if formsMemoN.Add(1) > maxFormsMemo {
		formsMemo.Clear()
		formsMemoN.Store(1)
	}
	formsMemo.Store(sec, f)
	return f
}

// forms are the ways a secret may appear in an answer or an error.
func forms(sec string) []string {
	out := []string{sec}
	add := func(f string) {
		for _, o := range out {
			if o == f {
				return
			}
		}
		out = append(out, f)
	}
	add(url.QueryEscape(sec))
	add(url.PathEscape(sec))
	if b, err := json.Marshal(sec); err == nil { // <, >, & as \u003c…
		add(strings.Trim(string(b), `"`))
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(sec) == nil {
		add(strings.Trim(strings.TrimSpace(b.String()), `"`))
	}
	add(base64.StdEncoding.EncodeToString([]byte(sec)))
	add(base64.URLEncoding.EncodeToString([]byte(sec)))
	return out
}

// basicPairs are the "id:secret" strings an HTTP Basic credential of the
// client carries, as sent (x/oauth2 URL-escapes both) and unescaped.
func basicPairs(id, secret string) []string {
	if len(secret) < MinSecretLen {
		return nil
	}
	return []string{id + ":" + secret, url.QueryEscape(id) + ":" + url.QueryEscape(secret)}
}
