package deadarchive

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
)

// countingStore records the size of every batch it is given.
type countingStore struct {
	Store
	batches []int
}

func (c *countingStore) Archive(ctx context.Context, letters []Letter) error {
	c.batches = append(c.batches, len(letters))
	return c.Store.Archive(ctx, letters)
}

// A batch is bounded in bytes as well as in count: dead letters may be as
// large as event.max_bytes, and a thousand of them would not fit in memory.
func TestBatchesAreBoundedInBytes(t *testing.T) {
	f := newFixture(t, testenv.Redis(t), 1)
	now := f.clock.Now()
	data := `{"blob":"` + strings.Repeat("x", 1000) + `"}`
	for i := range 120 {
		kv := letter(fmt.Sprint("e", i), "sub", fmt.Sprint("k", i), 40*day, now)
		kv[13] = data
		f.dead(0, 40*day-time.Duration(i)*time.Millisecond, kv...)
	}
	store := &countingStore{Store: NewClickHouseStore(f.ch, f.db)}
	a, err := New(Config{Shards: f.shards, MaxAge: maxAge, BatchBytes: 40_000, LockKey: f.shards[0].DeadArchiveLock(), Store: store, Clock: f.clock}, f.rdb)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := a.Pass(context.Background()); err != nil || n != 120 {
		t.Fatalf("pass: %d, %v", n, err)
	}
	if fmt.Sprint(store.batches) != "[50 50 20]" {
		t.Fatalf("batches %v; want 50 KB reads to end a batch of 40 KB: [50 50 20]", store.batches)
	}
	if rows := f.archived(true); len(rows) != 120 {
		t.Fatalf("%d archived, want 120", len(rows))
	}
}

// A dead_at that is not a time ClickHouse can hold (only a writer with
// Redis access can make one) is not stored wrapped around: the entry's id
// gives its time, and the field is kept as it was.
func TestOddDeadAtTakesTheEntryTime(t *testing.T) {
	f := newFixture(t, testenv.Redis(t), 1)
	now := f.clock.Now()
	var ids []string
	for _, odd := range []string{"99999999999999999", "-5", "soon"} {
		kv := letter("e"+odd, "sub", "k", 40*day, now)
		kv[len(kv)-1] = odd
		ids = append(ids, f.dead(0, 40*day, kv...))
	}
	if n, err := f.archiver(NewClickHouseStore(f.ch, f.db), 0).Pass(context.Background()); err != nil || n != 3 {
		t.Fatalf("pass: %d, %v", n, err)
	}
	want := now.Add(-40 * day).Truncate(time.Second)
	for _, r := range f.archived(true) {
		if !r.DeadAt.Equal(want) || r.Values[len(r.Values)-1] != strings.TrimPrefix(r.EventID, "e") {
			t.Errorf("%s: dead_at %s, fields %v; want the id's time %s and the field kept", r.StreamID, r.DeadAt, r.Values, want)
		}
	}
}
