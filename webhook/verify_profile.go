package webhook

import (
	"errors"
	"net/http"
	"time"

	"github.com/streamsync/streamsync/profile"
)

// byProfile verifies a webhook signed the way the partner's profile signs
// our calls to it (its auth.hmac; profile.VerifyHMAC).
type byProfile struct {
	p         *profile.Profile
	tolerance time.Duration
	now       func() time.Time
}

// check lets every request through to verify: where the signature and
// timestamp travel depends on the whole profile.
func (v *byProfile) check(http.Header, string) error { return nil }

func (v *byProfile) verify(r *http.Request, body []byte) (string, error) {
	ref, err := v.p.VerifyHMAC(r, body, v.now(), v.tolerance)
	switch {
	case err == nil:
		return ref, nil
	case errors.Is(err, profile.ErrHMACMissing):
		return "", refuse(ReasonMissingSignature, err.Error())
	case errors.Is(err, profile.ErrHMACTimestamp):
		return "", refuse(ReasonBadTimestamp, err.Error())
	case errors.Is(err, profile.ErrHMACStale):
		return "", refuse(ReasonStaleTimestamp, err.Error())
	}
	return "", refuse(ReasonBadSignature, "the signature does not match")
}
