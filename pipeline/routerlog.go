package pipeline

import (
	"context"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill"
)

// routerLogger is the router's logger: Watermill's slog adapter (its Info
// lines at Debug), except that a Trace line is built only when log writes
// it. The router logs two Trace lines per message, and the adapter turns
// their fields into attributes before slog drops them, which showed in the
// profile of every event.
type routerLogger struct {
	watermill.LoggerAdapter
	log *slog.Logger
}

func newRouterLogger(log *slog.Logger) watermill.LoggerAdapter {
	return routerLogger{
		LoggerAdapter: watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug}),
		log:           log,
	}
}

func (r routerLogger) Trace(msg string, fields watermill.LogFields) {
	if r.log.Enabled(context.Background(), watermill.LevelTrace) {
		r.LoggerAdapter.Trace(msg, fields)
	}
}

func (r routerLogger) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return routerLogger{LoggerAdapter: r.LoggerAdapter.With(fields), log: r.log}
}
