package admin

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// startAdmin starts New(cfg) over the fake operations on a free port and
// returns its base URL and port.
func startAdmin(t *testing.T, cfg Config, ops *fakeOps) (base, port string) {
	t.Helper()
	api := NewAPI(ops, &fakeChains{}, nil)
	s, err := New(cfg, func(context.Context) error { return nil }, prometheus.NewRegistry(), api, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	_, port, _ = net.SplitHostPort(s.Addr())
	return "http://" + s.Addr(), port
}

// Without admin.token, as by default: a web page in an operator's browser
// can neither drop dead letters (a text/plain or cross-origin POST), nor
// read them through a DNS-rebinding name, nor profile the process; curl
// and the console's own calls still work. docs/security.md, "Admin".
func TestAdminRefusesWebPages(t *testing.T) {
	ops := &fakeOps{}
	base, port := startAdmin(t, Config{Addr: "127.0.0.1:0"}, ops)
	own := "http://127.0.0.1:" + port
	drop := base + "/api/v1/dead/drop"
	tests := []struct {
		name, method, path, host, body string
		headers                        []string
		status                         int
		contains                       string
	}{
		{"a page's simple POST, text/plain", "POST", drop, "", `{"all":true}`, []string{"Content-Type: text/plain", "Origin: https://evil.example"}, 403, "cross-origin"},
		{"text/plain without Origin", "POST", drop, "", `{"all":true}`, []string{"Content-Type: text/plain"}, 415, "application/json"},
		{"a form post", "POST", drop, "", `all=true`, []string{"Content-Type: application/x-www-form-urlencoded"}, 415, "application/json"},
		{"no Content-Type", "POST", drop, "", `{"all":true}`, nil, 415, "application/json"},
		{"JSON from another origin", "POST", drop, "", `{"all":true}`, []string{jsonCT, "Origin: https://evil.example"}, 403, "cross-origin"},
		{"JSON from another port of this host", "POST", drop, "", `{"all":true}`, []string{jsonCT, "Origin: http://127.0.0.1:1"}, 403, "cross-origin"},
		{"Origin null", "POST", drop, "", `{"all":true}`, []string{jsonCT, "Origin: null"}, 403, "cross-origin"},
		{"cross-site fetch", "POST", drop, "", `{"all":true}`, []string{jsonCT, "Sec-Fetch-Site: cross-site"}, 403, "cross-site"},
		{"same-site fetch (another port)", "POST", drop, "", `{"all":true}`, []string{jsonCT, "Sec-Fetch-Site: same-site"}, 403, "cross-site"},
		{"a repair run started by a page", "POST", base + "/api/v1/reconcile/run", "", `{"repair":true}`, []string{"Content-Type: text/plain"}, 415, "application/json"},
		{"a rebinding name reads dead letters", "GET", base + "/api/v1/dead", "evil.example:" + port, "", nil, 421, "admin.hosts"},
		{"a rebinding name drops them", "POST", drop, "evil.example:" + port, `{"all":true}`, []string{jsonCT, "Origin: http://evil.example:" + port}, 421, "admin.hosts"},
		{"a rebinding name loads the console", "GET", base + "/", "evil.example:" + port, "", nil, 421, "admin.hosts"},
		{"a rebinding name asks for the token rule", "GET", base + "/console/auth", "evil.example:" + port, "", nil, 421, ""},
		{"the admin address, another port", "GET", base + "/api/v1/status", "127.0.0.1:1", "", nil, 421, ""},
		{"a cross-site read", "GET", base + "/api/v1/dead", "", "", []string{"Sec-Fetch-Site: cross-site"}, 403, "cross-site"},
		{"pprof without a token is off", "GET", base + "/debug/pprof/", "", "", nil, 404, ""},
		{"pprof profile without a token is off", "GET", base + "/debug/pprof/profile?seconds=1", "", "", nil, 404, ""},
		{"an execution trace without a token is off", "GET", base + "/debug/pprof/trace?seconds=0.01", "", "", nil, 404, ""},

		{"curl's JSON POST", "POST", drop, "", `{"ids":["e1"]}`, []string{jsonCT}, 200, `"count":1`},
		{"JSON with a charset", "POST", drop, "", `{"ids":["e2"]}`, []string{"Content-Type: application/json; charset=utf-8"}, 200, `"count":1`},
		{"the console's own POST", "POST", drop, "", `{"ids":["e3"]}`, []string{jsonCT, "Origin: " + own, "Sec-Fetch-Site: same-origin"}, 200, `"count":1`},
		{"the console opened as localhost", "POST", drop, "localhost:" + port, `{"ids":["e4"]}`, []string{jsonCT, "Origin: http://localhost:" + port}, 200, `"count":1`},
		{"the console opened as [::1]", "GET", base + "/api/v1/status", "[::1]:" + port, "", []string{"Origin: http://[::1]:" + port}, 200, "stream_length"},
		{"a typed URL", "GET", base + "/api/v1/status", "", "", []string{"Sec-Fetch-Site: none"}, 200, "stream_length"},
		{"a link from elsewhere to the console", "GET", base + "/", "", "", []string{"Sec-Fetch-Site: cross-site"}, 200, "Dead letters"},
		{"probe by any name", "GET", base + "/healthz", "streamsync.svc:" + port, "", nil, 200, "ok"},
		{"readiness by any name", "GET", base + "/readyz", "10.1.2.3", "", nil, 200, "ready"},
		{"Prometheus by a service name", "GET", base + "/metrics", "streamsync:" + port, "", nil, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := call(t, tt.method, tt.path, tt.host, tt.body, tt.headers...)
			if st != tt.status || !strings.Contains(body, tt.contains) {
				t.Fatalf("%s %s (Host %q): %d %s; want %d containing %q", tt.method, tt.path, tt.host, st, body, tt.status, tt.contains)
			}
		})
	}
	if got := strings.Join(ops.replayed, ","); got != "e1,e2,e3,e4" {
		t.Fatalf("dropped %s; want only the four allowed calls' e1,e2,e3,e4", got)
	}
}

// admin.hosts lets a reverse proxy's name through, with or without a port,
// and a page of that name (scheme's default port) may act; other names
// still may not.
func TestAdminHosts(t *testing.T) {
	ops := &fakeOps{}
	base, port := startAdmin(t, Config{Addr: "127.0.0.1:0", Hosts: []string{"ops.example", "OPS2.example:8443"}}, ops)
	drop := base + "/api/v1/dead/drop"
	tests := []struct {
		name, host string
		headers    []string
		status     int
	}{
		{"the proxy's name", "ops.example", []string{jsonCT, "Origin: https://ops.example"}, 200},
		{"the proxy's name with a port", "ops.example:9999", []string{jsonCT}, 200},
		{"Host rewritten by the proxy, Origin the proxy's", "127.0.0.1:" + port, []string{jsonCT, "Origin: https://ops.example"}, 200},
		{"a name listed with its port", "ops2.example:8443", []string{jsonCT, "Origin: https://OPS2.example:8443"}, 200},
		{"that name on another port", "ops2.example:8444", []string{jsonCT}, 421},
		{"the proxy's name, Origin on another port", "ops.example", []string{jsonCT, "Origin: https://ops.example:8443"}, 403},
		{"a trailing dot", "ops.example.", []string{jsonCT}, 200},
		{"a name beside it", "evil-ops.example", []string{jsonCT}, 421},
		{"a subdomain", "a.ops.example", []string{jsonCT}, 421},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := call(t, "POST", drop, tt.host, `{"ids":["x"]}`, tt.headers...)
			if st != tt.status {
				t.Fatalf("Host %q: %d %s; want %d", tt.host, st, body, tt.status)
			}
		})
	}
}

// With a token: the token is compared in constant time (its hash), pprof
// is served behind it, and the Host and Origin rules hold as well; a
// server on every interface answers its loopback names.
func TestAdminWithToken(t *testing.T) {
	ops := &fakeOps{}
	base, port := startAdmin(t, Config{Addr: "0.0.0.0:0", Token: "s3cret"}, ops)
	loop := "http://127.0.0.1:" + port
	tests := []struct {
		name, method, url, host string
		headers                 []string
		status                  int
	}{
		{"no token", "GET", loop + "/api/v1/status", "", nil, 401},
		{"a prefix of the token", "GET", loop + "/api/v1/status", "", []string{"Authorization: Bearer s3c"}, 401},
		{"the token and more", "GET", loop + "/api/v1/status", "", []string{"Authorization: Bearer s3cret2"}, 401},
		{"the token", "GET", loop + "/api/v1/status", "", []string{"Authorization: Bearer s3cret"}, 200},
		{"localhost", "GET", loop + "/api/v1/status", "localhost:" + port, []string{"Authorization: Bearer s3cret"}, 200},
		{"pprof without the token", "GET", loop + "/debug/pprof/", "", nil, 401},
		{"pprof with it", "GET", loop + "/debug/pprof/", "", []string{"Authorization: Bearer s3cret"}, 200},
		{"an execution trace without the token", "GET", loop + "/debug/pprof/trace?seconds=0.01", "", nil, 401},
		{"an execution trace with it", "GET", loop + "/debug/pprof/trace?seconds=0.01", "", []string{"Authorization: Bearer s3cret"}, 200},
		{"pprof by a rebinding name", "GET", loop + "/debug/pprof/", "evil.example:" + port, []string{"Authorization: Bearer s3cret"}, 421},
		{"a token does not excuse text/plain", "POST", loop + "/api/v1/dead/drop", "", []string{"Authorization: Bearer s3cret", "Content-Type: text/plain"}, 415},
		{"nor another origin", "POST", loop + "/api/v1/dead/drop", "", []string{"Authorization: Bearer s3cret", jsonCT, "Origin: https://evil.example"}, 403},
		{"the unspecified address as a name", "GET", loop + "/api/v1/status", "0.0.0.0:" + port, []string{"Authorization: Bearer s3cret"}, 421},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := call(t, tt.method, tt.url, tt.host, `{"ids":["x"]}`, tt.headers...)
			if st != tt.status {
				t.Fatalf("%d %s; want %d", st, body, tt.status)
			}
		})
	}
	_ = base
	if len(ops.replayed) != 0 {
		t.Fatalf("dropped %v", ops.replayed)
	}
}

// The server itself refuses to listen off loopback without a token, as
// config validation does (a second lock), and refuses a bad admin.hosts.
func TestNewRefusesOpenAdmin(t *testing.T) {
	ready := func(context.Context) error { return nil }
	for _, addr := range []string{"0.0.0.0:8090", ":8090", "10.0.0.5:8090", "ops.example:8090", "[::]:8090"} {
		if _, err := New(Config{Addr: addr}, ready, nil, nil, nil); err == nil || !strings.Contains(err.Error(), "admin.token") {
			t.Errorf("%s without a token: %v", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:8090", "localhost:8090", "[::1]:8090", "127.0.0.2:0"} {
		if _, err := New(Config{Addr: addr}, ready, nil, nil, nil); err != nil {
			t.Errorf("%s without a token: %v", addr, err)
		}
	}
	if _, err := New(Config{Addr: "0.0.0.0:8090", Token: "t"}, ready, nil, nil, nil); err != nil {
		t.Errorf("every interface with a token: %v", err)
	}
	if _, err := New(Config{Addr: "127.0.0.1:8090", Hosts: []string{"ops.example/x"}}, ready, nil, nil, nil); err == nil {
		t.Error("admin.hosts with a path accepted")
	}
}
