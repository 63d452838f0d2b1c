package deadarchive

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
)

// maxEntityLen is the longest entity a valid event has (docs/events.md); a
// dead letter naming a longer one never had a record state.
const maxEntityLen = 64

// trim removes the archived letters of shard k from its dead-letter
// stream (layout.TrimArchived) and returns how many it deleted.
func trim(ctx context.Context, rdb redis.UniversalClient, k layout.Keys, letters []Letter) (int, error) {
	archived := make([]layout.Archived, len(letters))
	for i, l := range letters {
		archived[i] = layout.Archived{StreamID: l.StreamID, EventID: l.EventID}
		if hasState(l) {
			archived[i].Entity, archived[i].Key = l.Entity, l.Key
		}
	}
	n, err := layout.TrimArchived(ctx, rdb, k, archived)
	if err != nil {
		return n, fmt.Errorf("trim %s: %w", k.Dead, err)
	}
	return n, nil
}

// hasState reports whether the letter's record may have a dead state: the
// pipeline sets one for every dead letter but the invalid ones.
func hasState(l Letter) bool {
	return l.Reason != handlers.ReasonInvalid && l.Entity != "" && len(l.Entity) <= maxEntityLen && l.Key != "" && l.EventID != ""
}
