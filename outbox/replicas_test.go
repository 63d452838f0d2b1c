package outbox

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/ingest"
	"github.com/streamsync/streamsync/internal/testenv"
)

// With redis.wait_replicas 1 the relay deletes a batch's rows only once the
// replica has its events: with the replica stopped the pass fails with
// ingest.ErrNotReplicated within redis.wait_timeout and every row stays;
// with it back, the next pass relays them (docs/reliability.md, "Waiting
// for replicas"); Run logs that pass at WARN, not ERROR.
func TestRelayKeepsRowsUntilReplicated(t *testing.T) {
	f := setup(t)
	ss := testenv.Sentinel(t)
	t.Cleanup(func() { testenv.DeleteKeys(ss.Client, testenv.Prefix(t)) })
	var logs testenv.Logs
	r, err := NewRelay(Config{Logger: logs.Logger(), Table: f.table, Keys: f.keys, Limits: event.Limits{MaxBytes: 4096},
		Replicas: ingest.Replicas{N: 1, Timeout: 300 * time.Millisecond}}, f.pool, ss.Client)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		f.insert(t, evt("w"+string(rune('a'+i)), i+1), true)
	}
	stopped, resume := ss.StopReplica(t)
	if n, err := r.RelayOnce(context.Background()); !errors.Is(err, ingest.ErrNotReplicated) || n != 0 {
		t.Fatalf("with the replica %s stopped: relayed %d, %v; want 0 and ErrNotReplicated", stopped, n, err)
	}
	if n := f.rows(t); n != 3 {
		t.Fatalf("%d rows left after an unreplicated pass, want all 3", n)
	}
	// Run logs such a pass at WARN (the rows are relayed again), not ERROR.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	failed := func(level slog.Level) bool {
		for _, rec := range logs.Records() {
			if rec.Message == "outbox: relay pass failed; its rows will be relayed again" && rec.Level == level {
				return true
			}
		}
		return false
	}
	testenv.WaitFor(t, 10*time.Second, "an unreplicated relay pass logged", func() bool { return failed(slog.LevelWarn) || failed(slog.LevelError) })
	cancel()
	<-done
	if failed(slog.LevelError) {
		t.Fatalf("an unreplicated relay pass logged at ERROR; want WARN: %v", logs.Records())
	}
	resume()
	if n, err := r.RelayOnce(context.Background()); err != nil || n != 3 {
		t.Fatalf("with the replica back: relayed %d, %v; want 3", n, err)
	}
	if n := f.rows(t); n != 0 {
		t.Fatalf("%d rows left after a replicated pass, want none", n)
	}
}
