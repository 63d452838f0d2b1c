package deadarchive

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
)

const day = 24 * time.Hour

// Dead letters older than dead.max_age, on every shard, land in ClickHouse
// with every field (a packed MoreField unfolded, a repeated name, bytes that
// are not UTF-8) and leave the stream, batch by batch; younger ones stay.
// The record state that names an archived dead letter goes with it; other
// states stay. A second pass finds nothing more to do.
func TestOldDeadLettersArchivedWithEveryFieldAndTrimmed(t *testing.T) {
	f := newFixture(t, testenv.Redis(t), 2)
	ctx := context.Background()
	now := f.clock.Now()
	var old0, old1, young0, young1 []string
	want := map[string][]string{} // stream id → the fields the archive must hold
	add := func(shard int, ago time.Duration, kv ...string) string {
		id := f.dead(shard, ago, kv...)
		want[id] = kv
		return id
	}
	for i, ago := range []time.Duration{40 * day, 39 * day, 38 * day, 37 * day} {
		old0 = append(old0, add(0, ago, letter(fmt.Sprint("e", i), "sub", fmt.Sprint("k", i), ago, now)...))
	}
	more := layout.PackFields([]string{"extra_1", "one", "extra_2", "\xff\xfe not utf-8"})
	odd := append(letter("odd", "sub", "k-odd", 31*day, now), "note", "first", "note", "second", layout.MoreField, more)
	old0 = append(old0, f.dead(0, 31*day, odd...))
	want[old0[4]] = append(letter("odd", "sub", "k-odd", 31*day, now), "note", "first", "note", "second", "extra_1", "one", "extra_2", "\xff\xfe not utf-8")
	young0 = append(young0, f.dead(0, 29*day, letter("y0", "sub", "ky0", 29*day, now)...), f.dead(0, time.Hour, letter("y1", "sub", "ky1", time.Hour, now)...))
	old1 = append(old1, add(1, 45*day, letter("s1a", "main", "m1", 45*day, now)...), add(1, 30*day+time.Minute, letter("s1b", "main", "m2", 30*day+time.Minute, now)...))
	young1 = append(young1, f.dead(1, 30*day-time.Minute, letter("s1y", "main", "m3", 30*day-time.Minute, now)...))

	// record states: one naming an archived dead letter, one naming an
	// event that waits, one naming a young dead letter
	f.rdb.HSet(ctx, f.shards[0].State("sub"), "k0", "dead:e0", "k1", "retry:e1", "ky0", "dead:y0")
	f.rdb.HSet(ctx, f.shards[1].State("main"), "m1", "dead:s1a")

	a := f.archiver(NewClickHouseStore(f.ch, f.db), 3) // 5 old on shard 0: two batches
	n, err := a.Pass(ctx)
	if err != nil || n != 7 {
		t.Fatalf("pass: %d archived, %v; want 7", n, err)
	}
	if got := f.ids(0); !slices.Equal(got, young0) {
		t.Fatalf("shard 0 keeps %v, want the young %v", got, young0)
	}
	if got := f.ids(1); !slices.Equal(got, young1) {
		t.Fatalf("shard 1 keeps %v, want the young %v", got, young1)
	}
	rows := f.archived(true)
	if got, w := streamIDs(rows), sorted(old0, old1); !slices.Equal(got, w) {
		t.Fatalf("archived %v, want %v", got, w)
	}
	for _, r := range rows {
		kv := want[r.StreamID]
		var names, values []string
		for i := 0; i < len(kv); i += 2 {
			names, values = append(names, kv[i]), append(values, kv[i+1])
		}
		if !slices.Equal(r.Names, names) || !slices.Equal(r.Values, values) {
			t.Errorf("%s: archived fields\n%s\nwant\n%s", r.StreamID, pairs(r.Names, r.Values), pairs(names, values))
		}
		shard := 0
		if slices.Contains(old1, r.StreamID) {
			shard = 1
		}
		deadAt := time.UnixMilli(mustInt(t, kv, "dead_at")).Truncate(time.Second)
		if r.Stream != f.shards[shard].Dead || int(r.Shard) != shard || r.EventID != kv[1] || r.Account != "acc-"+kv[1] ||
			r.Entity != kv[5] || r.Key != kv[7] || r.Reason != "rejected" || r.Error != "422 Unprocessable Entity: "+kv[1] ||
			r.Attempts != 1 || !r.DeadAt.Equal(deadAt) || !r.ArchivedAt.Equal(now.Truncate(time.Second)) || r.Instance != "t1" {
			t.Errorf("%s: archived %+v", r.StreamID, r)
		}
	}
	states, _ := f.rdb.HGetAll(ctx, f.shards[0].State("sub")).Result()
	if _, ok := states["k0"]; ok || states["k1"] != "retry:e1" || states["ky0"] != "dead:y0" {
		t.Fatalf("shard 0 states after the archive: %v; want k0 gone, k1 and ky0 kept", states)
	}
	if n, _ := f.rdb.HLen(ctx, f.shards[1].State("main")).Result(); n != 0 {
		t.Fatalf("shard 1: the archived record's dead state is left")
	}

	n, err = a.Pass(ctx)
	if err != nil || n != 0 || len(f.archived(false)) != 7 {
		t.Fatalf("second pass: %d archived, %v, %d rows; want nothing more", n, err, len(f.archived(false)))
	}
	f.clock.Add(day + time.Minute) // the first young one of each shard comes of age
	if n, err := a.Pass(ctx); err != nil || n != 2 || !slices.Equal(f.ids(0), young0[1:]) || len(f.ids(1)) != 0 {
		t.Fatalf("a day later: %d archived, %v, shard 0 keeps %v", n, err, f.ids(0))
	}
}

func mustInt(t *testing.T, kv []string, name string) int64 {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		if kv[i] == name {
			var n int64
			if _, err := fmt.Sscan(kv[i+1], &n); err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in %v", name, kv)
	return 0
}

// A ClickHouse insert that fails (a table that does not fit, a server that
// does not answer) trims nothing; once the insert works, the next pass
// archives and trims them.
func TestFailedInsertTrimsNothing(t *testing.T) {
	f := newFixture(t, testenv.Redis(t), 1)
	ctx := context.Background()
	now := f.clock.Now()
	ids := []string{f.dead(0, 40*day, letter("a", "sub", "k", 40*day, now)...), f.dead(0, 35*day, letter("b", "sub", "k2", 35*day, now)...)}
	f.rdb.HSet(ctx, f.shards[0].State("sub"), "k", "dead:a")

	if err := f.ch.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+f.db+"`"); err != nil {
		t.Fatal(err)
	}
	if err := f.ch.Exec(ctx, "CREATE TABLE `"+f.db+"`.dead_letters (stream_id String) ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}
	store := NewClickHouseStore(f.ch, f.db)
	a := f.archiver(store, 0)
	if n, err := a.Pass(ctx); err == nil || n != 0 {
		t.Fatalf("pass into a table that does not fit: %d, %v; want an error", n, err)
	}
	if got := f.ids(0); !slices.Equal(got, ids) {
		t.Fatalf("after a failed insert the stream holds %v, want all of %v", got, ids)
	}
	if s, _ := f.rdb.HGet(ctx, f.shards[0].State("sub"), "k").Result(); s != "dead:a" {
		t.Fatalf("after a failed insert the record's state is %q", s)
	}

	down := f.archiver(NewClickHouseStore(closedClickHouse(t), f.db), 0)
	if n, err := down.Pass(ctx); err == nil || n != 0 || !slices.Equal(f.ids(0), ids) {
		t.Fatalf("pass with ClickHouse down: %d, %v, stream %v", n, err, f.ids(0))
	}

	if err := f.ch.Exec(ctx, "DROP TABLE `"+f.db+"`.dead_letters"); err != nil {
		t.Fatal(err)
	}
	if n, err := a.Pass(ctx); err != nil || n != 2 || len(f.ids(0)) != 0 || !slices.Equal(streamIDs(f.archived(true)), ids) {
		t.Fatalf("pass once the table is right: %d, %v, stream %v", n, err, f.ids(0))
	}
}

// crashAfterInsert stores the letters and then fails, as a process killed
// between the insert and the trim.
type crashAfterInsert struct{ Store }

func (c crashAfterInsert) Archive(ctx context.Context, letters []Letter) error {
	if err := c.Store.Archive(ctx, letters); err != nil {
		return err
	}
	return errors.New("killed")
}

// A crash between the archive and the trim only archives again: the next
// pass stores the same dead letters again and trims them, and the archive
// holds each once (FINAL, and after ClickHouse merged the parts).
func TestArchivedAgainAfterACrashDoesNotDuplicate(t *testing.T) {
	f := newFixture(t, testenv.Redis(t), 1)
	ctx := context.Background()
	now := f.clock.Now()
	var ids []string
	for i := range 5 {
		ids = append(ids, f.dead(0, time.Duration(40-i)*day, letter(fmt.Sprint("e", i), "sub", fmt.Sprint("k", i), time.Duration(40-i)*day, now)...))
	}
	store := NewClickHouseStore(f.ch, f.db)
	if _, err := f.archiver(crashAfterInsert{store}, 0).Pass(ctx); err == nil {
		t.Fatal("the crashed pass reported no error")
	}
	if got := f.ids(0); !slices.Equal(got, ids) {
		t.Fatalf("the crashed pass trimmed: %v left", got)
	}
	if n, err := f.archiver(store, 0).Pass(ctx); err != nil || n != 5 || len(f.ids(0)) != 0 {
		t.Fatalf("pass after the crash: %d, %v", n, err)
	}
	if got := streamIDs(f.archived(true)); !slices.Equal(got, ids) {
		t.Fatalf("archive FINAL holds %v, want each of %v once", got, ids)
	}
	if err := f.ch.Exec(ctx, "OPTIMIZE TABLE `"+f.db+"`.dead_letters FINAL"); err != nil {
		t.Fatal(err)
	}
	if got := streamIDs(f.archived(false)); !slices.Equal(got, ids) {
		t.Fatalf("archive after a merge holds %v, want each of %v once", got, ids)
	}
}

// While another process holds the lease, a pass does nothing; once it is
// free, the pass archives.
func TestOneProcessArchivesAtATime(t *testing.T) {
	f := newFixture(t, testenv.Redis(t), 1)
	ctx := context.Background()
	id := f.dead(0, 40*day, letter("a", "sub", "k", 40*day, f.clock.Now())...)
	lock := f.shards[0].DeadArchiveLock()
	if err := f.rdb.Set(ctx, lock, "other:1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	a := f.archiver(NewClickHouseStore(f.ch, f.db), 0)
	if n, err := a.Pass(ctx); err != nil || n != 0 || !slices.Equal(f.ids(0), []string{id}) {
		t.Fatalf("pass while another holds the lease: %d, %v, stream %v", n, err, f.ids(0))
	}
	if v, _ := f.rdb.Get(ctx, lock).Result(); v != "other:1" {
		t.Fatalf("the other holder's lease became %q", v)
	}
	f.rdb.Del(ctx, lock)
	if n, err := a.Pass(ctx); err != nil || n != 1 {
		t.Fatalf("pass with the lease free: %d, %v", n, err)
	}
	if n, _ := f.rdb.Exists(ctx, lock).Result(); n != 0 {
		t.Fatal("the lease is still held after the pass")
	}
}
