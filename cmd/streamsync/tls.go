package main

import (
	"crypto/tls"
	"strings"

	"github.com/streamsync/streamsync/config"
	"github.com/streamsync/streamsync/internal/tlsconf"
)

// tlsFor is the TLS of one client connection from its section's settings
// (docs/security.md, "Transport"): nil when they ask for none (plain TCP,
// or an https:// URL with the system's roots and no client certificate).
// section names the settings in errors ("redis" → redis.tls_ca_file).
func tlsFor(section string, f config.TLSFiles) (*tls.Config, error) {
	if !f.On() {
		return nil, nil
	}
	return tlsconf.Client(section, tlsconf.Files{CAFile: f.CAFile, CertFile: f.CertFile, KeyFile: f.KeyFile}, nil)
}

// tlsHint names the TLS settings of section ("redis", "clickhouse") to look
// at when msg shows a TLS handshake that failed, or a server that closed
// the connection at once; "" otherwise.
func tlsHint(section string, f config.TLSFiles, msg string) string {
	closed := strings.HasSuffix(msg, ": EOF") || strings.Contains(msg, "connection reset by peer")
	switch {
	case strings.Contains(msg, "unknown authority") || strings.Contains(msg, "failed to verify certificate"):
		return "the server's certificate is not signed by a CA streamsync trusts (or does not name the host dialled): give that CA in " +
			section + ".tls_ca_file"
	case strings.Contains(msg, "certificate required") || strings.Contains(msg, "bad certificate") || strings.Contains(msg, "unknown certificate"),
		f.On() && f.CertFile == "" && closed:
		return "the server wants a client certificate it trusts: " + section + ".tls_cert_file and " + section + ".tls_key_file"
	case f.On() && strings.Contains(msg, "first record does not look like a TLS handshake"):
		return "the server does not speak TLS on that port: give its TLS port, or turn " + section + ".tls off"
	case !f.On() && closed:
		return "the server closed the connection: if it speaks TLS only, set " + section + ".tls: true (and " + section + ".tls_ca_file)"
	}
	return ""
}
