package tlsconf_test

import (
	"crypto/tls"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/internal/tlsconf"
)

func TestClientErrorsNameTheSetting(t *testing.T) {
	ca := testenv.NewCA(t)
	client := ca.Client(t, "streamsync")
	other := ca.Client(t, "other")
	expired := ca.ClientExpired(t, "old")
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a PEM file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name  string
		files tlsconf.Files
		want  []string // substrings of the error; none: no error
	}{
		{"nothing", tlsconf.Files{}, nil},
		{"CA only", tlsconf.Files{CAFile: ca.File}, nil},
		{"CA and client certificate", tlsconf.Files{CAFile: ca.File, CertFile: client.CertFile, KeyFile: client.KeyFile}, nil},
		{"CA file missing", tlsconf.Files{CAFile: missing}, []string{"redis.tls_ca_file", "missing.pem", "no such file"}},
		{"CA file not PEM", tlsconf.Files{CAFile: garbage}, []string{"redis.tls_ca_file", "garbage.pem", "no PEM certificate"}},
		{"CA file is a key", tlsconf.Files{CAFile: client.KeyFile}, []string{"redis.tls_ca_file", "no PEM certificate"}},
		{"certificate without key", tlsconf.Files{CertFile: client.CertFile}, []string{"redis.tls_cert_file and redis.tls_key_file", "both"}},
		{"certificate file missing", tlsconf.Files{CertFile: missing, KeyFile: client.KeyFile}, []string{"redis.tls_cert_file", "no such file"}},
		{"certificate file not PEM", tlsconf.Files{CertFile: garbage, KeyFile: client.KeyFile}, []string{"redis.tls_cert_file", "garbage.pem", "no PEM certificate"}},
		{"key file missing", tlsconf.Files{CertFile: client.CertFile, KeyFile: missing}, []string{"redis.tls_key_file", "no such file"}},
		{"key file not PEM", tlsconf.Files{CertFile: client.CertFile, KeyFile: garbage}, []string{"redis.tls_key_file", "garbage.pem", "no PEM private key"}},
		{"key file is a certificate", tlsconf.Files{CertFile: client.CertFile, KeyFile: client.CertFile}, []string{"redis.tls_key_file", "no PEM private key"}},
		{"key of another certificate", tlsconf.Files{CertFile: client.CertFile, KeyFile: other.KeyFile}, []string{"redis.tls_key_file", "does not belong", "redis.tls_cert_file"}},
		{"expired certificate", tlsconf.Files{CertFile: expired.CertFile, KeyFile: expired.KeyFile}, []string{"redis.tls_cert_file", "expired at"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tlsconf.Client("redis", tc.files, nil)
			if tc.want == nil {
				if err != nil || c == nil || c.MinVersion != tls.VersionTLS12 {
					t.Fatalf("got %v, %v", c, err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "PRIVATE KEY-----\n") {
				t.Errorf("error holds a key: %q", err)
			}
			if strings.Contains(tc.name, "missing") && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %q does not wrap fs.ErrNotExist", err)
			}
		})
	}
}

// The Config a TLS server requiring client certificates accepts, and the
// ones it or the client refuses: no client certificate, a server
// certificate of another CA, a server that speaks TLS 1.1 at most.
func TestClientHandshakes(t *testing.T) {
	ca, stranger := testenv.NewCA(t), testenv.NewCA(t)
	client := ca.Client(t, "streamsync")
	for _, tc := range []struct {
		name    string
		server  *tls.Config
		files   tlsconf.Files
		wantErr string
	}{
		{"mTLS", &tls.Config{Certificates: []tls.Certificate{ca.Server(t).TLS}, ClientCAs: ca.Pool, ClientAuth: tls.RequireAndVerifyClientCert},
			tlsconf.Files{CAFile: ca.File, CertFile: client.CertFile, KeyFile: client.KeyFile}, ""},
		{"no client certificate", &tls.Config{Certificates: []tls.Certificate{ca.Server(t).TLS}, ClientCAs: ca.Pool, ClientAuth: tls.RequireAndVerifyClientCert},
			tlsconf.Files{CAFile: ca.File}, "certificate"},
		{"server of an unknown CA", &tls.Config{Certificates: []tls.Certificate{stranger.Server(t).TLS}},
			tlsconf.Files{CAFile: ca.File}, "unknown authority"},
		{"TLS 1.1 server", &tls.Config{Certificates: []tls.Certificate{ca.Server(t).TLS}, MaxVersion: tls.VersionTLS11},
			tlsconf.Files{CAFile: ca.File}, "version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := tls.Listen("tcp", "127.0.0.1:0", tc.server)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						_ = c.(*tls.Conn).Handshake()
						_, _ = c.Write([]byte("ok"))
					}()
				}
			}()
			cfg, err := tlsconf.Client("sink", tc.files, nil)
			if err != nil {
				t.Fatal(err)
			}
			d := &net.Dialer{Timeout: 5 * time.Second}
			conn, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), cfg)
			if err == nil {
				// TLS 1.3 reports a refused client certificate on the first read.
				_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 2)
				_, err = conn.Read(buf)
				conn.Close()
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("handshake: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want an error saying %q, got %v", tc.wantErr, err)
			}
		})
	}
}
