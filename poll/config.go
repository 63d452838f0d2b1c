package poll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamsync/streamsync/internal/keyslot"
	"github.com/streamsync/streamsync/partnerread"
	"github.com/streamsync/streamsync/profile"
)

// Defaults of Config (docs/partners.md, "Polling a partner").
const (
	DefaultEvery    = time.Minute
	DefaultOverlap  = time.Minute
	DefaultMaxPages = 100
	DefaultLeaseTTL = 30 * time.Second
)

// Listing is one listing of a partner's changes, a page per Next (io.EOF
// after the last); Position is where its next page starts, "" once the
// last page was read. *partnerread.Changes is one.
type Listing interface {
	Next(ctx context.Context) ([]profile.Changed, error)
	Position() string
}

// ListFunc starts the listing of entity's records changed since since,
// resumed at position ("" from the first page).
type ListFunc func(entity string, since time.Time, position string) (Listing, error)

// ReaderList is the ListFunc of a partner read through its profile.
func ReaderList(r *partnerread.Reader) ListFunc {
	return func(entity string, since time.Time, position string) (Listing, error) {
		return r.Changes(entity, since, position)
	}
}

// Config configures one partner's Poller. The settings are
// partners.<name>.poll.* (every, overlap, entities).
type Config struct {
	// Partner is the partner's name: the Appender's partner, and the
	// partner label of the metrics. Required.
	Partner string
	// Entities are the entities polled, each of which the profile must be
	// able to poll (read.since). Required.
	Entities []string
	// Profile, when set, is the partner's profile: Validate checks that it
	// can poll every entity (read.since), so a missing section stops
	// start-up instead of failing every poll.
	Profile *profile.Profile
	// Every is the time between two polls (default 1 min).
	Every time.Duration
	// Overlap is how far before the cursor each listing starts (default 1
	// min), so that a change the partner committed late, stamped with an
	// earlier time than one already seen, is not missed. Its re-reads give
	// the same event ids, which the ledger skips as duplicates.
	Overlap time.Duration
	// MaxPages bounds one poll of one entity (default 100 pages, each
	// bounded by the profile's read.max_page_bytes); the listing resumes
	// where it stopped at the next poll.
	MaxPages int
	// CursorKey is the Redis key (a hash) of entity's cursor and listing
	// in progress, e.g. "<prefix>:p:<name>:poll:<entity>". Required.
	CursorKey func(entity string) string
	// LeaseKey is the Redis key of the lease that lets one process at a
	// time poll the partner. On a Redis Cluster it must share its hash
	// slot with every CursorKey (the cursor is written by a script that
	// checks the lease): when it has a hash tag, New checks that they do.
	// Required.
	LeaseKey string
	// LeaseTTL is how long the lease outlives a process that stops
	// renewing it (default 30 s); it is renewed every TTL/3 while a poll
	// runs.
	LeaseTTL time.Duration
	// Instance names this process in the lease's value and in logs.
	Instance string
	Clock    Clock
	Logger   *slog.Logger
	// Registerer receives the metrics; nil: none. Several partners' pollers
	// may share one: the metrics are registered once and labelled.
	Registerer prometheus.Registerer
}

func (c *Config) setDefaults() {
	if c.Every == 0 {
		c.Every = DefaultEvery
	}
	if c.Overlap == 0 {
		c.Overlap = DefaultOverlap
	}
	if c.MaxPages == 0 {
		c.MaxPages = DefaultMaxPages
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.Instance == "" {
		c.Instance = "poller"
	}
	if c.Clock == nil {
		c.Clock = WallClock
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports the first setting that is wrong, named as in the
// settings.
func (c Config) Validate() error {
	switch {
	case c.Partner == "":
		return errors.New("poll: no partner name")
	case len(c.Entities) == 0:
		return fmt.Errorf("partners.%s.poll.entities: none to poll", c.Partner)
	case c.Every < 0:
		return fmt.Errorf("partners.%s.poll.every: must be positive, is %s", c.Partner, c.Every)
	case c.Overlap < 0:
		return fmt.Errorf("partners.%s.poll.overlap: must be positive, is %s", c.Partner, c.Overlap)
	case c.MaxPages < 0:
		return fmt.Errorf("poll %s: MaxPages must be positive, is %d", c.Partner, c.MaxPages)
	case c.CursorKey == nil || c.LeaseKey == "":
		return fmt.Errorf("poll %s: no cursor or lease key", c.Partner)
	}
	seen := map[string]bool{}
	for _, e := range c.Entities {
		if seen[e] {
			return fmt.Errorf("partners.%s.poll.entities: %s is named twice", c.Partner, e)
		}
		seen[e] = true
		if c.Profile != nil && !c.Profile.CanPoll(e) {
			return fmt.Errorf("partners.%s.poll.entities: profile %s cannot poll %s: give it read.list and read.since (docs/partners.md, \"Polling a partner\")", c.Partner, c.Profile.Name, e)
		}
		// Keys without a hash tag are those of one shard on a single Redis
		// (layout.NewShards tags every key it makes for a Cluster): any
		// slots do there.
		if k := c.CursorKey(e); keyslot.Tag(c.LeaseKey) != c.LeaseKey && keyslot.Of(k) != keyslot.Of(c.LeaseKey) {
			return fmt.Errorf("poll %s: cursor key %s and lease key %s are in different Cluster slots (give them one hash tag)", c.Partner, k, c.LeaseKey)
		}
	}
	return nil
}
