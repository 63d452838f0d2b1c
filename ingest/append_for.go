package ingest

import (
	"context"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
)

// AppendRoutedFor is AppendRouted with every entry meant for partner alone:
// a backfill or a reconciliation's repairs of one partner of several. The
// entries carry handlers.MetaFor, so the other partners pass them by
// (docs/partners.md, "Several partners"); the field never reaches a
// partner. With partner "" it is AppendRouted: every partner reads them.
func AppendRoutedFor(ctx context.Context, rdb redis.UniversalClient, route func(account string) string, events []event.Event, partner string) error {
	if partner == "" {
		return AppendRouted(ctx, rdb, route, events)
	}
	return appendRouted(ctx, rdb, route, events, []any{handlers.MetaFor, partner}, Replicas{})
}
