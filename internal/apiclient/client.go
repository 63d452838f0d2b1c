package apiclient

import (
	"net"
	"net/http"
	"time"
)

// NewHTTPClient is an HTTP client for a contract §2 API: at most maxConns
// connections to the host (kept alive), a dial timeout of dialTimeout, and
// redirects never followed — a 3xx is returned as the answer (contract §1:
// only the answer to the request sent counts). Per-request timeouts are the
// caller's (a context deadline).
func NewHTTPClient(dialTimeout time.Duration, maxConns int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
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
