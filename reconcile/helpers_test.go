package reconcile_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/ingest"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/pipeline"
	"github.com/streamsync/streamsync/pipeline/ordered"
	"github.com/streamsync/streamsync/reconcile"
	"github.com/streamsync/streamsync/sinks/partner"
	"github.com/streamsync/streamsync/source"
)

// world is a reconciliation test's parts: a partnersim playing our source,
// one playing the partner, the test Redis (keys of its own) and a
// ClickHouse database of its own.
type world struct {
	t       *testing.T
	rdb     *redis.Client
	keys    layout.Keys
	conn    driver.Conn
	db      string
	ours    *partnersim.Server
	theirs  *partnersim.Server
	oursSrc source.Source
	partner source.Source
	partURL string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	rdb := testenv.Redis(t)
	conn, db := testenv.ClickHouse(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	w := &world{t: t, rdb: rdb, conn: conn, db: db,
		keys: layout.NewKeys(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry")}
	var urls [2]string
	for i, sim := range []**partnersim.Server{&w.ours, &w.theirs} {
		s, err := partnersim.New(partnersim.Options{ClientID: "id", ClientSecret: "sec", Seed: uint64(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(s)
		t.Cleanup(hs.Close)
		*sim, urls[i] = s, hs.URL
	}
	var err error
	if w.oursSrc, err = source.New(source.Config{Kind: source.KindHTTP, BaseURL: urls[0], ClientID: "id", ClientSecret: "sec", PageSize: 7}); err != nil {
		t.Fatal(err)
	}
	if w.partner, err = source.New(source.Config{Kind: source.KindHTTP, BaseURL: urls[1], ClientID: "id", ClientSecret: "sec", PageSize: 5}); err != nil {
		t.Fatal(err)
	}
	w.partURL = urls[1]
	return w
}

// seedBoth writes the same records into both sides.
func (w *world) seedBoth(recs ...partnersim.RecordState) {
	w.t.Helper()
	for _, s := range []*partnersim.Server{w.ours, w.theirs} {
		if _, err := s.Seed(partnersim.SeedSpec{Records: recs}); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *world) seed(s *partnersim.Server, recs ...partnersim.RecordState) {
	w.t.Helper()
	if _, err := s.Seed(partnersim.SeedSpec{Records: recs}); err != nil {
		w.t.Fatal(err)
	}
}

func rec(entity, key, account string, version int64, data string) partnersim.RecordState {
	return partnersim.RecordState{Entity: entity, Key: key, Account: account, Version: version, Data: json.RawMessage(data)}
}

// reconciler builds a Reconciler over the world; withSource false compares
// with the ledger.
func (w *world) reconciler(cfg reconcile.Config, withSource bool) *reconcile.Reconciler {
	w.t.Helper()
	cfg.Database = w.db
	deps := reconcile.Deps{CH: w.conn, Theirs: w.partner, Ledger: reconcile.RedisLedger{RDB: w.rdb, Key: w.keys.Ledger},
		Append: reconcile.SignRepairs(w.rdb, w.keys.ProofKey, func(ctx context.Context, events []event.Event) error {
			return ingest.Append(ctx, w.rdb, w.keys.Events, events)
		})}
	if withSource {
		deps.Ours = w.oursSrc
	}
	r, err := reconcile.New(cfg, deps)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

// startPipeline runs a real pipeline from the world's events stream to the
// partner simulator; it stops when the test ends.
func (w *world) startPipeline() {
	w.t.Helper()
	sink, err := partner.New(partner.Config{BaseURL: w.partURL, ClientID: "id", ClientSecret: "sec", Timeout: 2 * time.Second})
	if err != nil {
		w.t.Fatal(err)
	}
	p, err := pipeline.New(pipeline.Config{Keys: w.keys, Consumer: "c1", PartnerName: "partner",
		Retry:   handlers.RetryPolicy{Initial: 50 * time.Millisecond, Max: time.Second, MaxAttempts: 5},
		MaxWait: 10 * time.Second, Subscriber: ordered.Config{Block: 50 * time.Millisecond}}, w.rdb, sink)
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case <-p.Running():
	case <-time.After(10 * time.Second):
		w.t.Fatal("pipeline did not start")
	}
	w.t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			w.t.Error("pipeline did not stop")
		}
	})
}

// waitDelivered waits until the pipeline has read and finished every entry
// of the events stream and n events were delivered in all.
func (w *world) waitDelivered(n int64) {
	w.t.Helper()
	testenv.WaitFor(w.t, 30*time.Second, "the pipeline to deliver every event", func() bool {
		s, err := inspect.ReadStatus(context.Background(), w.rdb, w.keys)
		return err == nil && s.Lag == 0 && s.Pending == 0 && s.Delayed == 0 && s.Retrying == 0 && s.Steps["delivered"] >= n
	})
}

// appendEvents appends events as a producer would.
func (w *world) appendEvents(events ...event.Event) {
	w.t.Helper()
	if err := ingest.Append(context.Background(), w.rdb, w.keys.Events, events); err != nil {
		w.t.Fatal(err)
	}
}

// streamEvents reads back the events stream.
func (w *world) streamEvents() []map[string]any {
	w.t.Helper()
	msgs, err := w.rdb.XRange(context.Background(), w.keys.Events, "-", "+").Result()
	if err != nil {
		w.t.Fatal(err)
	}
	out := make([]map[string]any, len(msgs))
	for i, m := range msgs {
		out[i] = m.Values
	}
	return out
}
