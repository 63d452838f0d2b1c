package attemptlog

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// spool keeps rows on disk while ClickHouse is away and Redis holds more than
// the backlog allows: append-only segment files, one JSON row a line, each
// written and fsynced whole. A segment is deleted only after its rows are in
// ClickHouse.
type spool struct {
	dir string
}

const segmentPrefix, segmentSuffix = "attempts-", ".jsonl"

func newSpool(dir string) (*spool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("clickhouse.spool_dir %s: %w", dir, err)
	}
	return &spool{dir: dir}, nil
}

// write stores rows as one new segment, fsynced.
func (s *spool) write(rows []Row) error {
	name := filepath.Join(s.dir, segmentPrefix+strconv.FormatInt(time.Now().UnixNano(), 10)+segmentSuffix)
	tmp := name + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			f.Close()
			os.Remove(tmp)
			return fmt.Errorf("spool: %w", err)
		}
	}
	if err := w.Flush(); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("spool %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("spool: %w", err)
	}
	return syncDir(s.dir)
}

// segments lists the segments, oldest first.
func (s *spool) segments() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	var out []string
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, segmentPrefix) && strings.HasSuffix(n, segmentSuffix) {
			out = append(out, filepath.Join(s.dir, n))
		}
	}
	slices.Sort(out)
	return out, nil
}

// read returns a segment's rows; a line that is not a row is skipped and
// counted in bad.
func (s *spool) read(path string) (rows []Row, bad int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var r Row
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			bad++
			continue
		}
		rows = append(rows, r)
	}
	return rows, bad, sc.Err()
}

func (s *spool) remove(path string) error {
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return syncDir(s.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
