package testenv

import (
	"context"
	"log/slog"
	"sync"
)

// Logs records the messages logged through its Logger, with their levels,
// for a test to read; safe for concurrent use.
type Logs struct {
	mu      sync.Mutex
	records []LogRecord
}

// LogRecord is one logged message and its level.
type LogRecord struct {
	Level   slog.Level
	Message string
}

// Logger is a logger whose records Logs keeps (every level, Debug up).
func (l *Logs) Logger() *slog.Logger { return slog.New(logsHandler{l}) }

// Records is a copy of what was logged so far, oldest first.
func (l *Logs) Records() []LogRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]LogRecord(nil), l.records...)
}

// logsHandler is the slog.Handler behind Logs.Logger; attributes and groups
// are dropped.
type logsHandler struct{ l *Logs }

func (h logsHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h logsHandler) Handle(_ context.Context, r slog.Record) error {
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	h.l.records = append(h.l.records, LogRecord{Level: r.Level, Message: r.Message})
	return nil
}

func (h logsHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h logsHandler) WithGroup(string) slog.Handler      { return h }
