package source_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/source"
)

func TestBadLinesCountsEachLineOnce(t *testing.T) {
	var logged bytes.Buffer
	b := source.NewBadLines("records.jsonl", slog.New(slog.NewTextHandler(&logged, nil)))
	for _, line := range []int{3, 7, 3, 7, 3} {
		b.Note(line, errors.New("not a JSON record"))
	}
	if b.Count() != 2 {
		t.Fatalf("count %d, want 2", b.Count())
	}
	if n := strings.Count(logged.String(), "line skipped"); n != 2 {
		t.Fatalf("%d warnings, want 2:\n%s", n, logged.String())
	}
}

// Each entity read is a pass over the file: its bad lines count once.
func TestBadLinesOverPasses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "records.jsonl")
	lines := `{"entity":"a","key":"1","account":"acc","version":1,"data":{}}` + "\nnot json\n" + `{"entity":"b","key":"2","account":"acc","version":1,"data":{}}` + "\n"
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	b := source.NewBadLines(path, nil)
	s, err := source.New(source.Config{Kind: source.KindFile, File: path, OnBadLine: b.Note})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, entity := range []string{"a", "b"} {
		it := s.List(entity, source.ListOptions{})
		for {
			if _, err := it.Next(context.Background()); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
	}
	if b.Count() != 1 {
		t.Fatalf("count %d after two passes, want 1", b.Count())
	}
}
