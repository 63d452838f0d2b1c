package admin

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// hostName is one name a request's Host (or Origin) may carry: a host name
// or IP in canonical form and a port; port "" matches any port (an
// admin.hosts entry without one).
type hostName struct{ name, port string }

// splitHost splits "host[:port]" into a canonical name (lower case, no
// trailing dot, an IP as netip prints it, no brackets) and the port, ""
// when there is none.
func splitHost(hostport string) (name, port string) {
	name = hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		name, port = h, p
	}
	name = strings.TrimSuffix(strings.ToLower(strings.Trim(name, "[]")), ".")
	if ip, err := netip.ParseAddr(name); err == nil {
		name = ip.Unmap().String()
	}
	return name, port
}

// parseHosts reads admin.hosts: each a host name or IP, with or without a
// port.
func parseHosts(hosts []string) ([]hostName, error) {
	var out []hostName
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" || strings.ContainsAny(h, "/ \t,@?#") {
			return nil, fmt.Errorf("admin.hosts: %q is not a host name or host:port", h)
		}
		name, port := splitHost(h)
		if name == "" {
			return nil, fmt.Errorf("admin.hosts: %q has no host name", h)
		}
		out = append(out, hostName{name, port})
	}
	return out, nil
}

// ownNames are the names the admin address itself answers to, given the
// configured admin.addr and the address the server listens on (which
// carries the real port when the configured one is 0): the configured host
// and the listening IP; with a loopback address also localhost, 127.0.0.1
// and ::1; with a wildcard one (0.0.0.0, ::, empty) those and every
// address of this machine's interfaces. All with the listening port.
func ownNames(configured, listening string) []hostName {
	cfgHost, _ := splitHost(configured)
	ip, port := splitHost(listening)
	addr, err := netip.ParseAddr(ip)
	wildcard := cfgHost == "" || (err == nil && addr.IsUnspecified())
	var names []string
	for _, n := range []string{ip, cfgHost} {
		if a, err := netip.ParseAddr(n); n != "" && (err != nil || !a.IsUnspecified()) {
			names = append(names, n) // never 0.0.0.0 or :: themselves
		}
	}
	if wildcard || isLoopback(configured) || (err == nil && addr.IsLoopback()) {
		names = append(names, "localhost", "127.0.0.1", "::1")
	}
	if wildcard {
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if p, err := netip.ParsePrefix(a.String()); err == nil {
					names = append(names, p.Addr().Unmap().WithZone("").String())
				}
			}
		}
	}
	out := make([]hostName, 0, len(names))
	for _, n := range names {
		out = append(out, hostName{n, port})
	}
	return out
}

// isLoopback reports whether addr (host:port or a bare host) names a
// loopback address only: localhost, 127.0.0.0/8 or ::1. An empty host
// (":8090") means every interface and is not loopback.
func isLoopback(addr string) bool {
	host, _ := splitHost(addr)
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// defaultPort is the port a URL of scheme names when it names none.
func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}
