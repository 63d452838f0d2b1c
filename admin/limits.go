package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/streamsync/streamsync/internal/httpserve"
)

// Bounds of what one admin request may ask for (docs/security.md, "Admin"):
// whatever a caller sends, an answer and the memory behind it stay bounded.
const (
	// MaxBodyBytes is the largest body of a POST; more is answered 413.
	MaxBodyBytes = 1 << 20
	// MaxIDs is the most ids one call may name (a replay, a drop, a list).
	MaxIDs = 10000
	// MaxPerCall is the most dead letters one replay or drop handles; an
	// answer with "more": true asks the caller to repeat the call.
	MaxPerCall = 10000
	// MaxSince is the widest window (since) of the chain queries.
	MaxSince = 31 * 24 * time.Hour
	// DefaultChains and MaxChains bound GET /api/v1/chains (limit).
	DefaultChains = 200
	MaxChains     = 1000
)

// errTooLarge is a body over MaxBodyBytes; errTooSlow one that came more
// slowly than the server's limits allow (docs/security.md).
var (
	errTooLarge = fmt.Errorf("body: larger than %d bytes", MaxBodyBytes)
	errTooSlow  = errors.New("body: came too slowly (docs/security.md)")
)

// decodeBody reads exactly one JSON object of at most MaxBodyBytes into v,
// refusing unknown fields and anything after the object. It fails with
// errTooLarge, errTooSlow or another error, answered as bodyStatus says.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if extra := dec.Decode(&json.RawMessage{}); !errors.Is(extra, io.EOF) {
			err = errors.New("one JSON object only")
			if extra != nil {
				err = extra
			}
		}
	}
	switch httpserve.BodyStatus(err) {
	case http.StatusRequestEntityTooLarge:
		return errTooLarge
	case http.StatusRequestTimeout:
		return errTooSlow
	}
	if err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
}

// bodyStatus answers a decodeBody error: 413 for errTooLarge, 408 for
// errTooSlow, 400 for a body that is not the JSON asked for.
func bodyStatus(err error) int {
	switch {
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errTooSlow):
		return http.StatusRequestTimeout
	}
	return http.StatusBadRequest
}

// sinceParam reads a window such as "1h" (def when empty), at most MaxSince.
func sinceParam(v string, def time.Duration) (time.Duration, error) {
	d, err := durationParam(v, def)
	if err != nil {
		return 0, err
	}
	if d > MaxSince {
		return 0, fmt.Errorf("at most %dh (%d days); narrow the window", MaxSince/time.Hour, MaxSince/(24*time.Hour))
	}
	return d, nil
}
