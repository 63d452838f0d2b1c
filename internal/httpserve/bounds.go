package httpserve

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// deadline ends every request's context after d (Limits.WriteTimeout):
// by then the answer can no longer be written, so the work for it stops.
func deadline(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// IsTooSlow reports whether err is a request body read that failed because
// the body came more slowly than Limits allow.
func IsTooSlow(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// BodyStatus is the status that answers a request whose body could not be
// read or decoded, err being why: 413 for a body over http.MaxBytesReader's
// limit, 408 for one that came too slowly (IsTooSlow), 400 for anything
// else (the body is not what was asked for).
func BodyStatus(err error) int {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case IsTooSlow(err):
		return http.StatusRequestTimeout
	}
	return http.StatusBadRequest
}

// bodyRate sets a read deadline on every request that has a body, moved
// forward as the body arrives so that it allows grace plus one second per
// rate bytes read (Limits.BodyGrace, Limits.MinBodyRate). net/http's own
// ReadTimeout is not used: one total for every request is either too short
// for a large body on a slow link or far too long for a small one sent a
// byte at a time.
func bodyRate(h http.Handler, grace time.Duration, rate int64, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		b := &rateBody{ReadCloser: r.Body, rc: http.NewResponseController(w), start: now(), grace: grace, rate: rate}
		_ = b.rc.SetReadDeadline(b.deadline()) // not supported: the body is read without one
		r.Body = b
		h.ServeHTTP(w, r)
	})
}

// rateBody is a request body whose read deadline follows what has arrived.
type rateBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	grace time.Duration
	rate  int64 // bytes a second
	read  int64
	done  bool
}

// deadline is when the body read so far allows the next read to end.
func (b *rateBody) deadline() time.Time {
	return b.start.Add(b.grace + time.Duration(float64(b.read)/float64(b.rate)*float64(time.Second)))
}

func (b *rateBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	switch {
	case b.done:
	case err == io.EOF:
		// The whole body is in. net/http clears the deadline itself as it
		// starts watching the connection for the client going away; no
		// later read may set one again, or that watch would cancel the
		// request's context while the handler works on.
		b.done = true
	case n > 0:
		_ = b.rc.SetReadDeadline(b.deadline())
	}
	return n, err
}
