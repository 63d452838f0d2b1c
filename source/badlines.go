package source

import (
	"log/slog"
	"sync"
)

// BadLines counts a file source's lines that are not records, each once
// (every entity read is a pass over the file), and logs each once as a
// warning. Its Note is a Config.OnBadLine.
type BadLines struct {
	log  *slog.Logger
	file string
	mu   sync.Mutex
	seen map[int]bool
}

// NewBadLines counts the bad lines of file, logging them to log (nil: not logged).
func NewBadLines(file string, log *slog.Logger) *BadLines {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &BadLines{log: log, file: file, seen: map[int]bool{}}
}

// Note counts and logs line, unless it was noted before.
func (b *BadLines) Note(line int, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen[line] {
		return
	}
	b.seen[line] = true
	b.log.Warn("source file: line skipped", "file", b.file, "line", line, "err", err)
}

// Count is how many different lines were noted.
func (b *BadLines) Count() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return int64(len(b.seen))
}
