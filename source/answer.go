package source

import (
	"fmt"
	"io"

	"github.com/streamsync/streamsync/internal/apiclient"
)

// DefaultMaxAnswer bounds one answer of an http source (Config.MaxAnswer):
// a page of 1,000 records of up to 1 MiB each would be more, but a list
// page that large is a misconfigured page size.
const DefaultMaxAnswer = 256 << 20

// readWhole reads an answer's body that is used whole (a record, a list
// page), at most limit bytes. An answer is never used in part: one cut short
// by the connection is an error wrapping apiclient.ErrAnswerCut (transient:
// asking again may get it whole), one longer than limit an error saying so
// (not transient), rather than the start of it read as if it were all.
func readWhole(r io.Reader, limit int64) ([]byte, error) {
	body, err := apiclient.ReadBody(r, limit)
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if body.Over {
		return nil, fmt.Errorf("the answer is over %d bytes: not read further, and not used in part", limit)
	}
	return body.Bytes, nil
}
