package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Files name the PEM files of one client connection's TLS.
type Files struct {
	// CAFile holds certificates trusted besides the system's roots (empty:
	// the system's roots only).
	CAFile string
	// CertFile and KeyFile are a client certificate and its private key
	// (mTLS); both or neither.
	CertFile, KeyFile string
}

// Client builds the *tls.Config of a client connection: TLS 1.2 at least,
// the system's roots plus the certificates in f.CAFile, and the client
// certificate in f.CertFile/f.KeyFile. ServerName is left empty: Go's TLS
// dial checks the server's certificate against the host dialled.
//
// section is the settings' prefix ("redis", "sink", …): an error names the
// setting and its file — a file that cannot be read, one without a PEM
// certificate or key, a certificate that has expired, or a key that does not
// belong to the certificate. now dates the expiry check (nil: time.Now).
func Client(section string, f Files, now func() time.Time) (*tls.Config, error) {
	if now == nil {
		now = time.Now
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CAFile != "" {
		pool, err := roots(section+".tls_ca_file", f.CAFile)
		if err != nil {
			return nil, err
		}
		c.RootCAs = pool
	}
	if (f.CertFile == "") != (f.KeyFile == "") {
		return nil, fmt.Errorf("%[1]s.tls_cert_file and %[1]s.tls_key_file: give both (a client certificate and its key) or neither", section)
	}
	if f.CertFile != "" {
		cert, err := keyPair(section, f.CertFile, f.KeyFile, now())
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// roots are the system's roots plus every certificate in file.
func roots(setting, file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
	certs, err := parseCerts(b)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", setting, file, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// errNoCert: a file meant to hold certificates has no PEM CERTIFICATE block.
var errNoCert = errors.New("no PEM certificate (-----BEGIN CERTIFICATE-----) in it")

func parseCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errNoCert
	}
	return out, nil
}

// keyPair loads a client certificate and its key, naming the file at fault.
func keyPair(section, certFile, keyFile string, now time.Time) (tls.Certificate, error) {
	certSetting, keySetting := section+".tls_cert_file", section+".tls_key_file"
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", certSetting, err)
	}
	certs, err := parseCerts(certPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s %s: %w", certSetting, certFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", keySetting, err)
	}
	if !hasKey(keyPEM) {
		return tls.Certificate{}, fmt.Errorf("%s %s: no PEM private key (-----BEGIN … PRIVATE KEY-----) in it", keySetting, keyFile)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return tls.Certificate{}, fmt.Errorf("%s %s does not belong to the certificate in %s %s", keySetting, keyFile, certSetting, certFile)
		}
		return tls.Certificate{}, fmt.Errorf("%s %s, %s %s: %w", certSetting, certFile, keySetting, keyFile, err)
	}
	if leaf := certs[0]; now.After(leaf.NotAfter) {
		return tls.Certificate{}, fmt.Errorf("%s %s: the certificate expired at %s", certSetting, certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return cert, nil
}

// hasKey reports whether b holds a PEM private key block. The key itself is
// never put in an error.
func hasKey(b []byte) bool {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return false
		}
		if blk.Type == "PRIVATE KEY" || strings.HasSuffix(blk.Type, " PRIVATE KEY") {
			return true
		}
	}
}
