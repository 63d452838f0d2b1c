package apiclient

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// NewHTTPClient is an HTTP client for a docs/partner-api.md API: at most maxConns
// connections to the host (kept alive), a dial timeout of dialTimeout, the
// TLS of tc (a custom CA, a client certificate; nil: the system's roots),
// and redirects never followed — a 3xx is returned as the answer (contract
// docs/events.md: only the answer to the request sent counts; docs/security.md,
// "Transport"). Per-request timeouts are the caller's (a context deadline).
func NewHTTPClient(dialTimeout time.Duration, maxConns int, tc *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if tc != nil {
		tr.TLSClientConfig = tc.Clone()
	}
	tr.MaxIdleConns = maxConns
	tr.MaxIdleConnsPerHost = maxConns
	tr.MaxConnsPerHost = maxConns
	tr.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
