package partnerread

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/streamsync/streamsync/internal/apiclient"
	"github.com/streamsync/streamsync/profile"
)

// Changes is a listing of the records of one entity the partner reports
// changed since a moment (the profile's read.since; docs/partners.md,
// "Polling a partner"), every account's, one page per Next.
type Changes struct {
	r      *Reader
	entity string
	pg     *profile.Pager
	limit  int64
}

// Changes starts the listing of entity's records changed since since,
// at position (a Position an earlier listing of the same entity and since
// reached, to resume it; "" from the first page). An entity without
// read.since is an error wrapping profile.ErrNoSince (or profile.ErrNoRead).
func (r *Reader) Changes(entity string, since time.Time, position string) (*Changes, error) {
	pg, err := r.p.ChangesPager(entity, since)
	if err != nil {
		return nil, err
	}
	if err := pg.Resume(position); err != nil {
		return nil, fmt.Errorf("%s: resuming the listing: %w", entity, err)
	}
	return &Changes{r: r, entity: entity, pg: pg, limit: r.p.MaxPageBytes(entity)}, nil
}

// Next reads the next page, bounded by read.max_page_bytes and retried as
// every read is: its items with their updated times, soft-deleted ones
// included (Deleted set: the partner's delete is a change too). An empty
// page that is not the last gives no items and no error. After the last
// page it returns io.EOF.
func (c *Changes) Next(ctx context.Context) ([]profile.Changed, error) {
	if c.pg.Done() {
		return nil, io.EOF
	}
	rr, err := c.pg.Request()
	if err != nil {
		return nil, err
	}
	a, err := c.r.send(ctx, rr, c.limit, false)
	if err == nil {
		err = c.r.judge(c.entity, rr, a)
	}
	if err != nil {
		return nil, err
	}
	items, err := c.pg.ChangesPage(a.header, a.body)
	if err != nil {
		return nil, fmt.Errorf("partner %s %s: %w", rr.Method, apiclient.RedactURL(rr.URL), err)
	}
	return items, nil
}

// Done reports whether the last page was read.
func (c *Changes) Done() bool { return c.pg.Done() }

// Position is where the next page starts, to be kept and given back to
// Changes to resume; "" once the last page was read (or before the first).
func (c *Changes) Position() string { return c.pg.Position() }
