package apiclient

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrOtherOrigin marks a URL taken from an answer (a next-page link, a
// Location) that is refused: it names another scheme, host or port than the
// API's configured URL, or carries user info. Such a URL is never fetched
// (docs/security.md, "Transport").
var ErrOtherOrigin = errors.New("a URL from an answer on another scheme, host or port than the configured one is refused, never fetched")

// SameOrigin resolves ref, a URL taken from an answer (absolute, or
// relative to base), against base, the API's configured URL, and returns it
// when it has base's scheme, host and port (a missing port is the scheme's
// own: 80 for http, 443 for https) and no user info. Otherwise the error
// wraps ErrOtherOrigin and names both origins, ref without its user info.
func SameOrigin(base *url.URL, ref string) (*url.URL, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not a URL", ErrOtherOrigin, RedactURL(ref))
	}
	u = base.ResolveReference(u)
	if u.User != nil {
		return nil, fmt.Errorf("%w: %s carries user info", ErrOtherOrigin, u.Redacted())
	}
	if Origin(u) != Origin(base) {
		return nil, fmt.Errorf("%w: %s is on %s, the configured URL on %s", ErrOtherOrigin, u.Redacted(), Origin(u), Origin(base))
	}
	return u, nil
}

// Origin is u's scheme://host:port, lower case, with the scheme's default
// port when u names none.
func Origin(u *url.URL) string {
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + ":" + port
}

// IsLink reports whether s, a value from an answer, reads as a URL to fetch
// rather than an opaque token: it names a host ("https://h/…", "//h/…") or
// its scheme is http or https. "page:2", "abc/def==" and "/v1/x" do not.
func IsLink(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return strings.Contains(s, "://")
	}
	scheme := strings.ToLower(u.Scheme)
	return u.Host != "" || scheme == "http" || scheme == "https"
}

// RedactURL is raw with the password of its user info replaced by "xxxxx"
// (url.URL.Redacted); raw itself when it does not parse or has none. A URL
// goes into an error or a log line only this way (docs/security.md,
// "Secrets").
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i, j := strings.Index(raw, "://"), strings.LastIndex(raw, "@"); i >= 0 && j > i {
			return raw[:i+3] + "xxxxx" + raw[j:] // unparsable, yet user info: drop it whole
		}
		return raw
	}
	if u.User == nil {
		return raw
	}
	return u.Redacted()
}
