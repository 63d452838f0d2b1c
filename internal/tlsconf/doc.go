// Package tlsconf turns the PEM files of a TLS setting (a CA, a client
// certificate and its key) into the *tls.Config of a client connection,
// with errors that name the setting (docs/security.md, "Transport").
package tlsconf
