package main

import (
	"crypto/tls"

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
