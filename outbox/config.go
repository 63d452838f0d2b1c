package outbox

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/ingest"
	"github.com/streamsync/streamsync/internal/layout"
)

// Defaults of docs/operations.md.
const (
	DefaultTable = "streamsync_outbox"
	DefaultBatch = 500
	DefaultPoll  = 100 * time.Millisecond
	// DefaultHold bounds how long a batch's transaction may sit idle
	// (docs/reliability.md, "The outbox under concurrency").
	DefaultHold = time.Minute
)

// Config configures a Relay.
type Config struct {
	// Table is the outbox table, [schema.]name (streamsync_outbox); created
	// when missing.
	Table string
	// Batch is how many rows one transaction relays: one pipelined XADD,
	// one DELETE (500).
	Batch int
	// Poll is how long an idle relay waits before it looks for rows again
	// (100ms); a full batch is followed by the next at once.
	Poll time.Duration
	// Keys names the events stream, the dead-letter stream and the attempts
	// stream an invalid row's row goes to.
	Keys layout.Keys
	// Route, when set, names the events stream of an account's shard
	// (docs/scaling.md, layout.Shards.Stream); relayed events go there instead
	// of Keys.Events.
	Route func(account string) string
	// Replicas is redis.wait_replicas and redis.wait_timeout: a batch's rows
	// are deleted only once that many replicas have its events; fewer in
	// time keep the rows for the next pass (docs/reliability.md).
	Replicas ingest.Replicas
	// Limits are the event limits of docs/events.md (event.max_bytes).
	Limits event.Limits
	// Instance fills the attempt log's instance column; AttemptLog turns
	// rows on.
	Instance   string
	AttemptLog bool
	// Hold is the batch transaction's idle_in_transaction_session_timeout
	// (DefaultHold): PostgreSQL ends the session of a relay that stays idle
	// inside a batch longer — a host gone without closing its connection,
	// or a Redis append that long — so its locks, the table's advisory lock
	// with them, pass to another instance; the batch is relayed again.
	Hold time.Duration
	// Now stamps ts on events without one and dead_at (time.Now).
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

var tableRe = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,62}$`)

func (c *Config) setDefaults() {
	if c.Table == "" {
		c.Table = DefaultTable
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if c.Poll <= 0 {
		c.Poll = DefaultPoll
	}
	if c.Hold <= 0 {
		c.Hold = DefaultHold
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports settings the relay cannot run with.
func (c Config) Validate() error {
	switch {
	case !tableRe.MatchString(c.Table):
		return fmt.Errorf("outbox: table %q is not [schema.]name", c.Table)
	case c.Batch > 10000:
		return fmt.Errorf("outbox: batch %d over 10000", c.Batch)
	case c.Keys.Events == "" || c.Keys.Dead == "":
		return errors.New("outbox: events and dead-letter streams required")
	}
	return nil
}
