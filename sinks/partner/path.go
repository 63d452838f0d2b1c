package partner

import (
	"net/http"
	"strconv"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/apiclient"
)

// request is the method and URL of an event's call (docs/partner-api.md): PUT or
// DELETE /v1/{entity}/{key}, each path value one escaped segment
// (apiclient.PathSegment: a key "." or ".." stays a record's name, never a
// step up the path).
func (s *Sink) request(e event.Event) (method, target string) {
	target = s.base + "/v1/" + apiclient.PathSegment(e.Entity) + "/" + apiclient.PathSegment(e.Key)
	if e.Op == event.OpDelete {
		return http.MethodDelete, target + "?version=" + strconv.FormatInt(e.Version, 10)
	}
	return http.MethodPut, target
}
