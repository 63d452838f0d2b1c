package twoway

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/source"
)

const (
	partner = "erp"
	account = "acct-1"
	entity  = "contact"
)

// fakeReader is the other side's records by key.
type fakeReader struct {
	mu    sync.Mutex
	recs  map[string]source.Record
	err   error
	calls int
	// during, when set, runs once inside the next Get, after the step has
	// read the agreement and before it decides (a concurrent writer).
	during func()
}

func (f *fakeReader) Get(_ context.Context, _, key string) (source.Record, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if d := f.during; d != nil {
		f.during = nil
		f.mu.Unlock()
		d()
		f.mu.Lock()
	}
	if f.err != nil {
		return source.Record{}, false, f.err
	}
	r, ok := f.recs[key]
	return r, ok, nil
}

func (f *fakeReader) set(key string, version int64, data string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.recs == nil {
		f.recs = map[string]source.Record{}
	}
	f.recs[key] = source.Record{Entity: entity, Key: key, Account: account, Version: version, Data: json.RawMessage(data)}
}

// rig is one direction of a two-way partner over real Redis, its
// resolutions appended by a real Appender.
type rig struct {
	rdb    *redis.Client
	keys   layout.Shards
	app    *Appender
	target *fakeReader
	pair   *Pair
	policy string
}

var now = time.UnixMilli(1_700_000_000_000)

func newRig(t *testing.T, from Side, policy string) *rig {
	t.Helper()
	rdb := testenv.Redis(t)
	p := testenv.Prefix(t)
	keys := layout.NewShards(p+"events", "g", p+"dead", p+"delayed", p+"retry", 1, false).ForPartner(partner)
	r := &rig{rdb: rdb, keys: keys, target: &fakeReader{}, policy: policy,
		app: &Appender{RDB: rdb, Partners: map[string]layout.Shards{partner: keys}, Limits: event.Limits{MaxBytes: 1 << 20},
			Clock: func() time.Time { return now }}}
	t.Cleanup(func() { testenv.DeleteKeys(rdb, p) })
	resolve := func(ctx context.Context, e event.Event) error { return r.app.ToOurs(ctx, partner, e) }
	if from == Theirs {
		resolve = func(ctx context.Context, e event.Event) error { return r.app.ToTheirs(ctx, partner, e) }
	}
	pair, err := New(Config{Partner: partner, From: from, Keys: keys, Hash: hashOf, Target: r.target,
		Policy: func(string) string { return r.policy }, Resolve: resolve,
		Retry: handlers.RetryPolicy{Initial: time.Second, Max: time.Minute, MaxAttempts: 3},
		Clock: func() time.Time { return now }}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	r.pair = pair
	return r
}

// hashOf stands for a profile's compare hash: the canonical data.
func hashOf(_ string, data json.RawMessage) string { return event.ContentHash(data) }

func upsert(id string, version int64, data string) event.Event {
	return event.Event{ID: id, Account: account, Entity: entity, Key: "k1", Op: event.OpUpsert, Version: version, Data: json.RawMessage(data)}
}

// agree sets the record's agreement: data's hash ("" none) and both versions.
func (r *rig) agree(t *testing.T, data string, ours, theirs int64) {
	t.Helper()
	h := ""
	if data != "" {
		h = hashOf(entity, json.RawMessage(data))
	}
	if err := layout.Agree(context.Background(), r.rdb, r.keys.For(account), entity, "k1", h, ours, theirs); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) agreement(t *testing.T) layout.Agreement {
	t.Helper()
	a, err := layout.ReadAgreement(context.Background(), r.rdb, r.keys.For(account), entity, "k1")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// step runs the pair's step on e.
func (r *rig) step(t *testing.T, e event.Event, m handlers.Meta) (*handlers.Outcome, *handlers.Work) {
	t.Helper()
	w := &handlers.Work{Event: e, Meta: m, Now: now}
	o, err := r.pair.Step()(context.Background(), w)
	if err != nil {
		t.Fatalf("step: %v", err)
	}
	return o, w
}

// entries are the entries of a stream, as field maps.
func entries(t *testing.T, rdb *redis.Client, stream string) []map[string]any {
	t.Helper()
	msgs, err := rdb.XRange(context.Background(), stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]map[string]any, len(msgs))
	for i, m := range msgs {
		out[i] = m.Values
	}
	return out
}

func stepOf(o *handlers.Outcome) handlers.Step {
	if o == nil {
		return ""
	}
	return o.Step
}
