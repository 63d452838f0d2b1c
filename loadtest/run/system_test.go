package main

import (
	"strings"
	"testing"
	"time"
)

// The report's setup line says what the run offered: a backlog run appends
// with pipelined XADD and has no levels, never "vegeta, one event per
// request".
func TestSetupLineSaysWhatWasOffered(t *testing.T) {
	backlog := options{backlog: 1_000_000, batch: 1, mode: "ingest", duration: 20 * time.Second}
	got := offeredWith(backlog) + "; " + howLong(backlog)
	for _, want := range []string{"backlog of about 1000000 events", "pipelined XADD", "drained"} {
		if !strings.Contains(got, want) {
			t.Errorf("backlog run: %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "vegeta") || strings.Contains(got, "per level") {
		t.Errorf("backlog run: %q speaks of vegeta or levels", got)
	}
	levels := options{batch: 1, mode: "ingest", duration: 20 * time.Second}
	if got := offeredWith(levels) + "; " + howLong(levels); got != "vegeta on POST /v1/events, one event per request; 20s per level" {
		t.Errorf("level run: %q", got)
	}
}
