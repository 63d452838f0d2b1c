package attemptlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// A stop cancels the context: the insert or ping it interrupts is not an
// outage and logs no warning. A real outage warns once, not on every retry.
func TestWentAwayWarnsOnlyForOutages(t *testing.T) {
	var buf bytes.Buffer
	x := &Exporter{log: slog.New(slog.NewTextHandler(&buf, nil))}
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	x.wentAway(stopped, fmt.Errorf("insert: %w", context.Canceled))
	x.wentAway(context.Background(), fmt.Errorf("clickhouse: %w", context.Canceled))
	if buf.Len() != 0 || x.down {
		t.Fatalf("a stop logged %q (down %v)", buf.String(), x.down)
	}
	refused := errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	x.wentAway(context.Background(), refused)
	x.wentAway(context.Background(), refused)
	if n := strings.Count(buf.String(), "level=WARN msg=\"clickhouse unreachable"); n != 1 || !x.down {
		t.Fatalf("an outage logged %d warnings (down %v):\n%s", n, x.down, buf.String())
	}
}
