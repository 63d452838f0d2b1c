package deadarchive

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

const maxAge = 30 * 24 * time.Hour

// fixture is n shards of a test's own on rdb (tagged, as with stream.shards
// > 1 or a Cluster), a ClickHouse database of its own, and a clock at a
// fixed "now" that dead letters are placed around.
type fixture struct {
	t      *testing.T
	rdb    redis.UniversalClient
	shards layout.Shards
	ch     driver.Conn
	db     string
	clock  *fakeClock
}

func newFixture(t *testing.T, rdb redis.UniversalClient, n int) *fixture {
	t.Helper()
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	shards := layout.NewShards(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry", n, n > 1)
	ch, db := testenv.ClickHouse(t)
	// now: a day boundary in the past, so that ids placed around it are valid stream ids
	return &fixture{t: t, rdb: rdb, shards: shards, ch: ch, db: db, clock: &fakeClock{now: time.UnixMilli(1_750_000_000_000)}}
}

func (f *fixture) archiver(store Store, batch int) *Archiver {
	f.t.Helper()
	a, err := New(Config{Shards: f.shards, MaxAge: maxAge, Batch: batch, LockKey: f.shards[0].DeadArchiveLock(),
		Instance: "t1", Store: store, Clock: f.clock}, f.rdb)
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

// dead appends a dead letter to shard i's stream, appended ago before the
// fixture's now (the entry id carries that time), and returns its id.
func (f *fixture) dead(i int, ago time.Duration, kv ...string) string {
	f.t.Helper()
	ms := f.clock.Now().Add(-ago).UnixMilli()
	vals := make([]any, len(kv))
	for j, s := range kv {
		vals[j] = s
	}
	id, err := f.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: f.shards[i].Dead, ID: fmt.Sprintf("%d-*", ms), Values: vals}).Result()
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// letter is the fields of a dead letter the pipeline writes for event id.
func letter(id, entity, key string, ago time.Duration, now time.Time) []string {
	return []string{"id", id, "account", "acc-" + id, "entity", entity, "key", key, "op", "upsert", "version", "7",
		"data", `{"name":"Li Lei"}`, "dead_reason", "rejected", "dead_error", "422 Unprocessable Entity: " + id,
		"dead_attempts", "1", "dead_at", fmt.Sprint(now.Add(-ago).UnixMilli())}
}

func (f *fixture) ids(i int) []string {
	f.t.Helper()
	xs, err := f.rdb.XRange(context.Background(), f.shards[i].Dead, "-", "+").Result()
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, x := range xs {
		out = append(out, x.ID)
	}
	return out
}

// archived is the archive's rows, FINAL, as "stream_id event_id reason".
type row struct {
	DeadAt                                     time.Time
	Stream, StreamID, EventID, Account, Entity string
	Key, Reason, Error, Instance               string
	Shard                                      uint16
	Attempts                                   uint32
	Names, Values                              []string
	ArchivedAt                                 time.Time
}

func (f *fixture) archived(final bool) []row {
	f.t.Helper()
	fin := ""
	if final {
		fin = " FINAL"
	}
	rows, err := f.ch.Query(context.Background(), fmt.Sprintf("SELECT dead_at, stream, stream_id, event_id, account, entity, key, dead_reason, dead_error, instance, shard, dead_attempts, field_names, field_values, archived_at FROM `%s`.dead_letters%s ORDER BY stream, stream_id", f.db, fin))
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.DeadAt, &r.Stream, &r.StreamID, &r.EventID, &r.Account, &r.Entity, &r.Key, &r.Reason, &r.Error, &r.Instance,
			&r.Shard, &r.Attempts, &r.Names, &r.Values, &r.ArchivedAt); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func streamIDs(rows []row) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.StreamID)
	}
	slices.Sort(out)
	return out
}

func sorted(ids ...[]string) []string {
	var out []string
	for _, s := range ids {
		out = append(out, s...)
	}
	slices.Sort(out)
	return out
}

func pairs(names, values []string) string {
	var b strings.Builder
	for i := range names {
		fmt.Fprintf(&b, "%q=%q ", names[i], values[i])
	}
	return b.String()
}
