package poll

import (
	"strconv"

	"github.com/streamsync/streamsync/profile"
)

// Ref is the ref a polled change is appended with:
// "poll/<entity>/<updated unix ms>/<version>/<key>" (the key last, so that
// any key reads back unambiguously). It names the record and the state the
// partner reported, not the poll that read it, so a change read again —
// by the overlap, or by a listing resumed after a crash — gets the same
// event id and the ledger skips it as a duplicate; a new change of the
// record has a new updated time, hence a new id. Each change is appended
// with its own ref.
func Ref(entity string, c profile.Changed) string {
	return "poll/" + entity + "/" + strconv.FormatInt(c.Updated, 10) + "/" + strconv.FormatInt(c.Version, 10) + "/" + c.Key
}
