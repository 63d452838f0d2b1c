package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
)

// openPaths answer whatever the request's Host: load balancers' probes and
// Prometheus reach the admin port by a pod IP or a service name, and none
// of them reads or changes a dead letter (docs/security.md).
var openPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// guard applies the admin rules of docs/security.md ("Admin") to every
// request but those of openPaths, before any handler runs:
//
//   - a Host that is not the admin address (or a loopback name when it
//     listens on loopback or every interface) nor in admin.hosts: 421, so
//     a DNS-rebinding page can neither read nor act;
//   - on the API and profiles, and on every request that may change state
//     (any method but GET, HEAD, OPTIONS): Sec-Fetch-Site other than
//     same-origin or none, or an Origin other than the admin address' own
//     (or an admin.hosts name): 403;
//   - a state-changing request whose Content-Type is not application/json:
//     415 — a web page cannot send that cross-origin without a CORS
//     preflight, which this server never grants.
type guard struct {
	configured string        // admin.addr as set
	listening  func() string // the address listened on, once started
	extra      []hostName    // admin.hosts
	once       sync.Once     // computes own on the first request
	own        []hostName    // the admin address' own names
	next       http.Handler  // the routes
	log        *slog.Logger  // refusals at WARN
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	p := path.Clean("/" + r.URL.Path)
	if openPaths[p] {
		g.next.ServeHTTP(w, r)
		return
	}
	if !g.hostAllowed(r.Host) {
		g.deny(w, r, http.StatusMisdirectedRequest, "the Host of this request is not the admin address (admin.addr) nor one of admin.hosts (docs/security.md)")
		return
	}
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions
	static := safe && (p == "/" || strings.HasPrefix(p, "/console/"))
	if !static {
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			g.deny(w, r, http.StatusForbidden, "cross-site request refused (Sec-Fetch-Site: "+site+"; docs/security.md)")
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && !g.originAllowed(origin, r.Host) {
			g.deny(w, r, http.StatusForbidden, "cross-origin request refused: Origin is not the admin address' own (docs/security.md)")
			return
		}
	}
	if !safe {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			g.deny(w, r, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
			return
		}
	}
	g.next.ServeHTTP(w, r)
}

func (g *guard) deny(w http.ResponseWriter, r *http.Request, status int, why string) {
	g.log.Warn("admin request refused", "status", status, "method", r.Method, "path", r.URL.Path, "host", r.Host,
		"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"), "remote", r.RemoteAddr)
	writeJSON(w, status, map[string]string{"error": why})
}

func (g *guard) ownNames() []hostName {
	g.once.Do(func() { g.own = ownNames(g.configured, g.listening()) })
	return g.own
}

// hostAllowed reports whether a request's Host names this server: one of
// its own names with its port (a Host without a port means 80), or an
// admin.hosts entry (any port when the entry has none).
func (g *guard) hostAllowed(host string) bool {
	name, port := splitHost(host)
	if name == "" {
		return false
	}
	if port == "" {
		port = "80"
	}
	for _, h := range g.ownNames() {
		if h.name == name && h.port == port {
			return true
		}
	}
	for _, h := range g.extra {
		if h.name == name && (h.port == "" || h.port == port) {
			return true
		}
	}
	return false
}

// originAllowed reports whether origin (scheme://host[:port]) is the
// admin address' own: the origin the request came to (its Host), one of
// the server's own names with its port, or an admin.hosts entry (with the
// scheme's default port when the entry has none) — the last for a reverse
// proxy that rewrites Host. "null" and any other scheme are refused.
func (g *guard) originAllowed(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") {
		return false
	}
	name, port := splitHost(u.Host)
	def := defaultPort(u.Scheme)
	if port == "" {
		port = def
	}
	hname, hport := splitHost(host)
	if name == hname && (port == hport || (hport == "" && port == def)) {
		return true
	}
	for _, h := range g.ownNames() {
		if h.name == name && h.port == port {
			return true
		}
	}
	for _, h := range g.extra {
		if h.name == name && (h.port == port || (h.port == "" && port == def)) {
			return true
		}
	}
	return false
}

// tokenEqual compares a presented token with the configured one in
// constant time, whatever their lengths (both are hashed first).
func tokenEqual(got, want string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
