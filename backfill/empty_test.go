package backfill_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/backfill"
)

// A run whose entities the source does not hold reads no record: it
// completes, but says so in a note and a WARN line, not silently.
func TestBackfillNoRecordsSaysSo(t *testing.T) {
	e := newEnv(t)
	var logs bytes.Buffer
	cfg := e.config()
	cfg.Rate = -1
	cfg.Entities = []string{"nosuch"}
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	b, err := backfill.New(cfg, e.rdb, fileSource(t, 10))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := b.Run(context.Background())
	if err != nil || !sum.Complete || sum.Records != 0 {
		t.Fatalf("summary %+v, %v", sum, err)
	}
	if len(sum.Notes) != 1 || !strings.Contains(sum.Notes[0], "no records for entities [nosuch]") {
		t.Fatalf("notes %q: want one saying no records were read for nosuch", sum.Notes)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "no records") {
		t.Fatalf("no WARN line: %s", logs.String())
	}

	// A run that reads records has no such note.
	cfg.Entities, cfg.Logger = nil, nil
	b, err = backfill.New(cfg, e.rdb, fileSource(t, 10))
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := b.Run(context.Background()); err != nil || sum.Records != 10 || len(sum.Notes) != 0 {
		t.Fatalf("a run with records: %+v, %v", sum, err)
	}
}
