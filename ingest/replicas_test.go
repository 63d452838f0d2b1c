package ingest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
)

// With redis.wait_replicas 1 the ingest answers 202 (a prepare 202, a
// confirm 200) once the replica has the events, and 503 (with Retry-After)
// within redis.wait_timeout when the replica is stopped (docs/reliability.md,
// "Waiting for replicas"). Those 503s are expected while a replica is away
// and the producer tries again: they are logged at WARN, never ERROR.
func TestIngestWaitsForReplicas(t *testing.T) {
	ss := testenv.Sentinel(t)
	rdb := ss.Client
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	keys := layout.NewKeys(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry")
	stream := keys.Events
	const timeout = 300 * time.Millisecond
	var logs testenv.Logs
	s, err := New(Config{Logger: logs.Logger(), Addr: "127.0.0.1:0", Stream: stream, Keys: keys, MaxBodyBytes: 8 << 10, Limits: event.Limits{MaxBytes: 2048},
		Replicas: Replicas{N: 1, Timeout: timeout}}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	url := "http://" + s.Addr() + "/v1/events"
	call := func(path, body string) (int, string, time.Duration) {
		start := time.Now()
		resp, err := http.Post(url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After"), time.Since(start)
	}
	ev := func(id string) string {
		return `{"id":"` + id + `","account":"a","entity":"x","key":"k","op":"upsert","version":1,"data":{}}`
	}
	if st, _, _ := call("", ev("e1")); st != http.StatusAccepted {
		t.Fatalf("with the replica up: %d, want 202", st)
	}
	if st, _, _ := call("?prepare=1", ev("p1")); st != http.StatusAccepted {
		t.Fatalf("prepare with the replica up: %d, want 202", st)
	}
	if st, _, _ := call("?prepare=1", ev("p2")); st != http.StatusAccepted {
		t.Fatalf("prepare with the replica up: %d, want 202", st)
	}
	if st, _, _ := call("/confirm", `{"ids":["p1"]}`); st != http.StatusOK {
		t.Fatalf("confirm with the replica up: %d, want 200", st)
	}
	replica, _ := ss.StopReplica(t)
	st, retry, took := call("", ev("e2"))
	if st != http.StatusServiceUnavailable || retry == "" || took < timeout || took > timeout+2*time.Second {
		t.Fatalf("with the replica %s stopped: %d (Retry-After %q) after %s, want 503 with Retry-After after about %s", replica, st, retry, took, timeout)
	}
	if st, _, took := call("?prepare=1", ev("p3")); st != http.StatusServiceUnavailable || took < timeout {
		t.Fatalf("prepare with the replica stopped: %d after %s, want 503 after %s", st, took, timeout)
	}
	if st, _, took := call("/confirm", `{"ids":["p2"]}`); st != http.StatusServiceUnavailable || took < timeout {
		t.Fatalf("confirm with the replica stopped: %d after %s, want 503 after %s", st, took, timeout)
	}
	err = AppendReplicated(context.Background(), rdb, func(string) string { return stream }, []event.Event{{ID: "e3", Account: "a"}}, Replicas{N: 1, Timeout: timeout})
	if !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("AppendReplicated with the replica stopped: %v, want ErrNotReplicated", err)
	}
	warned := map[string]bool{}
	for _, r := range logs.Records() {
		if r.Level >= slog.LevelError {
			t.Errorf("logged at %s: %q; a refusal for want of replicas is logged at WARN", r.Level, r.Message)
		}
		if r.Level == slog.LevelWarn {
			warned[r.Message] = true
		}
	}
	for _, m := range []string{"ingest: append failed", "ingest: prepare failed", "ingest: release failed"} {
		if !warned[m] {
			t.Errorf("no %q at WARN; logged: %v", m, logs.Records())
		}
	}
}
