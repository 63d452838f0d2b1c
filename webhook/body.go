package webhook

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// readBody reads a webhook's body, at most MaxBodyBytes in at most
// ReadTimeout: the connection's read deadline is set once before the
// first read, and a body still arriving when the time is up is refused
// even where a server in front moves that deadline on (internal/httpserve
// does, as a body keeps its rate). Errors are *refusal.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	deadline := time.Now().Add(h.cfg.ReadTimeout) // the wall clock: Now judges timestamps only
	if r.ContentLength != 0 {                     // a request without a body is already being watched for its client going away: no deadline then
		_ = http.NewResponseController(w).SetReadDeadline(deadline) // not supported: the timed reader below still bounds it
	}
	var buf bytes.Buffer
	src := http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes)
	chunk := make([]byte, 32<<10)
	for {
		n, err := src.Read(chunk)
		buf.Write(chunk[:n])
		if err == io.EOF {
			return buf.Bytes(), nil
		}
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return nil, refuse(ReasonBodyTooLarge, fmt.Sprintf("the body is larger than %d bytes", h.cfg.MaxBodyBytes))
		case errors.Is(err, os.ErrDeadlineExceeded) || err == nil && time.Now().After(deadline):
			return nil, refuse(ReasonBodyTooSlow, fmt.Sprintf("the body took longer than %s", h.cfg.ReadTimeout))
		case err != nil:
			return nil, refuse(ReasonBodyTooSlow, "the body could not be read: "+err.Error())
		}
	}
}
