package partner

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/internal/tlsconf"
	"github.com/streamsync/streamsync/partnersim"
)

// mtlsPartner is partnersim behind TLS that requires a client certificate
// of ca, on a free port; tokens counts the token requests it got.
func mtlsPartner(t *testing.T, ca *testenv.CA) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	sim, err := partnersim.New(partnersim.Options{ClientID: "id", ClientSecret: "sec"})
	if err != nil {
		t.Fatal(err)
	}
	tokens := &atomic.Int64{}
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "no client certificate", http.StatusForbidden) // the handshake refuses first; never reached
			return
		}
		if r.URL.Path == "/oauth/token" {
			tokens.Add(1)
		}
		sim.ServeHTTP(w, r)
	}))
	hs.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the test's point
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(t).TLS}, ClientCAs: ca.Pool, ClientAuth: tls.RequireAndVerifyClientCert}
	hs.StartTLS()
	t.Cleanup(hs.Close)
	return hs, tokens
}

// The sink delivers to a partner that wants a client certificate, through
// its token endpoint too, with sink.tls_ca_file and sink.tls_cert_file
// (docs/security.md, "Transport"); without the certificate, or trusting
// only the system's roots, the calls fail and the partner records nothing.
func TestSendOverMutualTLS(t *testing.T) {
	ca := testenv.NewCA(t)
	client := ca.Client(t, "streamsync")
	hs, tokens := mtlsPartner(t, ca)
	for _, tc := range []struct {
		name      string
		files     tlsconf.Files
		delivered bool
		detail    string
	}{
		{"CA and client certificate", tlsconf.Files{CAFile: ca.File, CertFile: client.CertFile, KeyFile: client.KeyFile}, true, ""},
		{"no client certificate", tlsconf.Files{CAFile: ca.File}, false, "certificate required"},
		{"system roots only", tlsconf.Files{CertFile: client.CertFile, KeyFile: client.KeyFile}, false, "unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokensBefore := tokens.Load()
			tc0, err := tlsconf.Client("sink", tc.files, nil)
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(Config{BaseURL: hs.URL, ClientID: "id", ClientSecret: "sec", Timeout: 2 * time.Second, TLS: tc0,
				Breaker: BreakerConfig{TripAfter: 100}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			r := s.Send(ctx, ev("e-"+strings.ReplaceAll(tc.name, " ", "-"), "reg", "k1", 1, `{"n":1}`))
			if tc.delivered {
				if r.Class != delivery.Delivered || tokens.Load() != tokensBefore+1 {
					t.Fatalf("over mTLS: %+v, %d token requests", r, tokens.Load()-tokensBefore)
				}
				return
			}
			if r.Class == delivery.Delivered || !strings.Contains(r.Detail, tc.detail) || tokens.Load() != tokensBefore {
				t.Fatalf("want a failure saying %q and no token request, got %+v, %d token requests", tc.detail, r, tokens.Load()-tokensBefore)
			}
		})
	}
}
