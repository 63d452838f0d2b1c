package pipeline

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
)

// The router's two Trace lines per message cost nothing when the log drops
// them, and are written as before when it does not.
func TestRouterLoggerTraceOnlyWhenWritten(t *testing.T) {
	fields := watermill.LogFields{"message_uuid": "u1", "handler_name": "events"}
	var buf bytes.Buffer
	off := newRouterLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))).With(fields)
	if n := testing.AllocsPerRun(100, func() { off.Trace("Received message", fields) }); n != 0 {
		t.Fatalf("a dropped Trace line allocated %v times", n)
	}
	if buf.Len() != 0 {
		t.Fatalf("wrote %q at Info", buf.String())
	}
	on := newRouterLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: watermill.LevelTrace}))).With(fields)
	on.Trace("Received message", fields)
	on.Info("Starting handler", nil) // Info is mapped to Debug
	if out := buf.String(); !strings.Contains(out, "Received message") || !strings.Contains(out, "message_uuid=u1") ||
		!strings.Contains(out, "level=DEBUG msg=\"Starting handler\"") {
		t.Fatalf("log = %q", out)
	}
}
