package replicas

import (
	"errors"
	"log/slog"
)

// Level is the log level of a failed write: slog.LevelWarn when err wraps
// ErrNotReplicated — an expected refusal while a replica is away or a
// failover is under way, which the producer (or the next pass) tries again
// — and slog.LevelError for any other error (docs/operations.md, "Running
// under Redis Sentinel").
func Level(err error) slog.Level {
	if errors.Is(err, ErrNotReplicated) {
		return slog.LevelWarn
	}
	return slog.LevelError
}
