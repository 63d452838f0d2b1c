package httpserve

import (
	"fmt"
	"time"
)

// Defaults of Limits (docs/security.md, "Ingest"; docs/operations.md).
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultBodyGrace         = 5 * time.Second
	DefaultMinBodyRate       = 64 << 10 // bytes a second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultMaxConns          = 1024
)

// Limits bound what one client can hold of a server: time, header bytes and
// connections. A zero field takes its default.
type Limits struct {
	// ReadHeaderTimeout is how long a request's headers may take to arrive.
	ReadHeaderTimeout time.Duration
	// BodyGrace and MinBodyRate bound how long a request body may take to
	// arrive: the first BodyGrace is free, after that the body must keep up
	// MinBodyRate bytes a second on average since the headers, or its next
	// read fails (the handler sees an error that matches
	// os.ErrDeadlineExceeded, see IsTooSlow) and the connection is closed. A
	// client sending one byte a second is cut off after BodyGrace; a 16 MiB
	// body at the default rate may take 5 s + 256 s.
	BodyGrace   time.Duration
	MinBodyRate int64 // bytes a second
	// WriteTimeout bounds the time from the end of the headers to the end of
	// the answer: a client that does not read its answer holds the
	// connection at most this long. A request's context ends then too, so a
	// handler's work stops when its answer could no longer be written (a
	// /debug/pprof/profile must ask for fewer seconds).
	WriteTimeout time.Duration
	// IdleTimeout closes a kept-alive connection that sends no request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's header lines and request line.
	MaxHeaderBytes int
	// MaxConns caps the connections served at once; further ones wait in
	// the kernel's accept queue until one ends.
	MaxConns int
}

// setDefaults fills the zero fields.
func (l *Limits) setDefaults() {
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if l.BodyGrace <= 0 {
		l.BodyGrace = DefaultBodyGrace
	}
	if l.MinBodyRate <= 0 {
		l.MinBodyRate = DefaultMinBodyRate
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
}

// String says the limits in one line, for the start-up log.
func (l Limits) String() string {
	return fmt.Sprintf("headers %s, body %s then %d B/s, answer %s, idle %s, %d header bytes, %d connections",
		l.ReadHeaderTimeout, l.BodyGrace, l.MinBodyRate, l.WriteTimeout, l.IdleTimeout, l.MaxHeaderBytes, l.MaxConns)
}
