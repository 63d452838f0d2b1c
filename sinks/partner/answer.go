package partner

import (
	"fmt"
	"io"
	"net/http"

	"github.com/streamsync/streamsync/internal/apiclient"
)

// readAnswer reads what Classify needs of an answer's body, at most
// apiclient.MaxAnswer bytes (docs/partner-faults.md, "Long answers"): an
// error answer's body whole (or its first MiB, in which Classify looks for
// the error code); a success's body is read and dropped, since nothing in it
// is judged. An error wraps apiclient.ErrAnswerCut when the body ended early.
// The caller closes the body.
func readAnswer(resp *http.Response) (apiclient.Body, error) {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, apiclient.MaxAnswer))
		if err != nil {
			return apiclient.Body{}, fmt.Errorf("%w after %d bytes: %w", apiclient.ErrAnswerCut, n, err)
		}
		return apiclient.Body{}, nil
	}
	return apiclient.ReadBody(resp.Body, apiclient.MaxAnswer)
}
