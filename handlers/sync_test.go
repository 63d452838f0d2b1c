package handlers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/event"
)

type fakeReader struct {
	rec   SourceRecord
	found bool
	err   error
}

func (f fakeReader) Read(context.Context, string, string) (SourceRecord, bool, error) {
	return f.rec, f.found, f.err
}

func TestSyncRead(t *testing.T) {
	policy := RetryPolicy{Initial: time.Second, Max: time.Minute, MaxAttempts: 3, Jitter: func() float64 { return 0.5 }}
	syncEvent := event.Event{ID: "s1", Account: "a", Entity: "sub", Key: "k", Op: event.OpSync}
	transient := fmt.Errorf("%w: 503", ErrSourceTransient)
	tests := []struct {
		name      string
		reader    RecordReader
		ev        event.Event
		ledger    Ledger
		fails     int
		step      Step // "" = passes on
		reason    string
		op        event.Op
		version   int64
		data      string
		idem      string
		due       time.Duration
		failsSeen int
	}{
		{"other ops pass untouched", fakeReader{}, upsert("u", 3, `{}`), Ledger{}, 0, "", "", event.OpUpsert, 3, `{}`, "", 0, 0},
		{"no source: invalid", nil, syncEvent, Ledger{}, 0, StepInvalid, ReasonInvalid, "", 0, "", "", 0, 0},
		{"found: upsert with the source's state", fakeReader{rec: SourceRecord{Version: 7, Data: []byte(`{"n":1}`)}, found: true}, syncEvent, Ledger{}, 0, "", "", event.OpUpsert, 7, `{"n":1}`, "s1:7", 0, 0},
		{"gone, ledger has it: delete at ledger+1", fakeReader{}, syncEvent, Ledger{Found: true, Version: 9, Hash: "h"}, 0, "", "", event.OpDelete, 10, "", "s1:10", 0, 0},
		{"gone, ledger has none: skipped_stale", fakeReader{}, syncEvent, Ledger{}, 0, StepSkippedStale, "", "", 0, "", "", 0, 0},
		{"gone, ledger at the top: skipped_stale, no version wraps", fakeReader{}, syncEvent, Ledger{Found: true, Version: 1<<63 - 1, Hash: "h"}, 0, StepSkippedStale, "", "", 0, "", "", 0, 0},
		{"transient: retried", fakeReader{err: transient}, syncEvent, Ledger{}, 0, StepRetryScheduled, "", "", 0, "", "", time.Second, 1},
		{"transient: second backoff", fakeReader{err: transient}, syncEvent, Ledger{}, 1, StepRetryScheduled, "", "", 0, "", "", 2 * time.Second, 2},
		{"transient: reads used up", fakeReader{err: transient}, syncEvent, Ledger{}, 2, StepDead, ReasonExhausted, "", 0, "", "", 0, 3},
		{"permanent source failure", fakeReader{err: errors.New("status 400")}, syncEvent, Ledger{}, 0, StepDead, ReasonRejected, "", 0, "", "", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failures := 0
			w := &Work{Event: tt.ev, Record: tt.ledger, Meta: Meta{SourceFails: tt.fails, Attempts: 2}, Now: now}
			o, err := SyncRead(tt.reader, policy, func() { failures++ })(context.Background(), w)
			if err != nil {
				t.Fatal(err)
			}
			if tt.step == "" {
				if o != nil {
					t.Fatalf("outcome %+v, want none", o)
				}
				e := w.Event
				if e.Op != tt.op || e.Version != tt.version || string(e.Data) != tt.data || e.IdempotencyKey != tt.idem || e.ID != tt.ev.ID {
					t.Fatalf("resolved to %+v", e)
				}
				return
			}
			wantAttempt := 2 // partner calls so far are kept
			if tt.step == StepInvalid {
				wantAttempt = 0
			}
			if o == nil || o.Step != tt.step || o.DeadReason != tt.reason || o.Attempt != wantAttempt {
				t.Fatalf("outcome %+v", o)
			}
			if tt.step == StepInvalid && !strings.Contains(o.Error, "source.kind") {
				t.Fatalf("the reason does not say what to configure: %q", o.Error)
			}
			if tt.due != 0 && o.Due.Sub(now) != tt.due {
				t.Fatalf("due in %s, want %s", o.Due.Sub(now), tt.due)
			}
			if tt.failsSeen != 0 && (o.Meta.SourceFails != tt.failsSeen || failures != 1) {
				t.Fatalf("source fails %d (told %d), want %d", o.Meta.SourceFails, failures, tt.failsSeen)
			}
		})
	}
}

func TestSyncReadAbortedOnShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := &Work{Event: event.Event{ID: "s", Op: event.OpSync}, Now: now}
	o, err := SyncRead(fakeReader{err: context.Canceled}, RetryPolicy{MaxAttempts: 3}, nil)(ctx, w)
	if !errors.Is(err, ErrAborted) || o != nil {
		t.Fatalf("got %+v %v, want ErrAborted", o, err)
	}
}

func TestMetaSourceFailsRoundTrip(t *testing.T) {
	m := Meta{Attempts: 1, SourceFails: 4}
	f := m.Fields()
	fields := map[string]string{}
	for i := 0; i < len(f); i += 2 {
		fields[f[i]] = f[i+1]
	}
	if got := MetaOf(fields); got != m {
		t.Fatalf("MetaOf(Fields()) = %+v, want %+v", got, m)
	}
}
