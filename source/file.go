package source

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// filePageSize is the records a file iterator returns per page.
const filePageSize = 1000

// maxLine bounds one line of a source file; a longer line is skipped as bad.
const maxLine = 64 << 20

type fileSource struct{ cfg Config }

func newFile(cfg Config) (*fileSource, error) {
	f, err := os.Open(cfg.File)
	if err != nil {
		return nil, fmt.Errorf("source.file: %w", err)
	}
	_ = f.Close()
	return &fileSource{cfg: cfg}, nil
}

func (s *fileSource) Kind() string { return KindFile }
func (s *fileSource) Close() error { return nil }

// Entities are source.entities, or every entity in the file (one pass;
// only the distinct names are kept).
func (s *fileSource) Entities(ctx context.Context) ([]string, error) {
	if len(s.cfg.Entities) > 0 {
		return s.cfg.Entities, nil
	}
	seen := map[string]bool{}
	err := s.scan(ctx, 0, func(_ int, r Record) bool {
		seen[r.Entity] = true
		return true
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(seen))
	for e := range seen {
		out = append(out, e)
	}
	slices.Sort(out)
	return out, nil
}

// Get finds a record by reading the file through (a file has no index); when
// a key appears more than once, the highest version wins.
func (s *fileSource) Get(ctx context.Context, entity, key string) (Record, bool, error) {
	var best Record
	found := false
	err := s.scan(ctx, 0, func(_ int, r Record) bool {
		if r.Entity == entity && r.Key == key && (!found || r.Version > best.Version) {
			best, found = r, true
		}
		return true
	})
	return best, found, err
}

// List streams the file's records of one entity; the cursor is the number of
// the last line read.
func (s *fileSource) List(entity string, opt ListOptions) Iterator {
	it := &fileIterator{s: s, entity: entity, account: opt.Account}
	if opt.Cursor != "" {
		n, err := strconv.Atoi(opt.Cursor)
		if err != nil || n < 0 {
			return errIterator{fmt.Errorf("source.file: cursor %q is not a line number", opt.Cursor)}
		}
		it.line = n
	}
	return it
}

// fileLine is one record with its line number.
type fileLine struct {
	n int
	r Record
}

type fileIterator struct {
	s       *fileSource
	entity  string
	account string
	line    int // last line handed out
	lines   *lineReader
	done    bool
}

func (it *fileIterator) Cursor() string {
	if it.done || it.line == 0 {
		return ""
	}
	return strconv.Itoa(it.line)
}

func (it *fileIterator) Next(ctx context.Context) ([]Record, error) {
	if it.done {
		return nil, io.EOF
	}
	if it.lines == nil {
		lr, err := openLines(it.s.cfg.File)
		if err != nil {
			return nil, err
		}
		it.lines = lr
		if err := lr.skip(it.line); err != nil {
			it.close()
			return nil, err
		}
	}
	page := make([]Record, 0, filePageSize)
	for len(page) < filePageSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		raw, n, err := it.lines.next()
		if errors.Is(err, io.EOF) {
			it.close()
			break
		}
		if err != nil {
			it.close()
			return nil, err
		}
		it.line = n
		r, ok := it.s.parse(n, raw)
		if ok && r.Entity == it.entity && (it.account == "" || r.Account == it.account) {
			page = append(page, r)
		}
	}
	if len(page) == 0 {
		return nil, io.EOF
	}
	return page, nil
}

func (it *fileIterator) close() {
	it.done = true
	if it.lines != nil {
		it.lines.close()
	}
}

// scan calls fn with every good record from line start+1 on until fn returns
// false; bad lines go to OnBadLine.
func (s *fileSource) scan(ctx context.Context, start int, fn func(line int, r Record) bool) error {
	lr, err := openLines(s.cfg.File)
	if err != nil {
		return err
	}
	defer lr.close()
	if err := lr.skip(start); err != nil {
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		raw, n, err := lr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if r, ok := s.parse(n, raw); ok && !fn(n, r) {
			return nil
		}
	}
}

// parse reads one line; a blank line is skipped quietly, any other line
// that is not a record is reported.
func (s *fileSource) parse(n int, raw []byte) (Record, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return Record{}, false
	}
	var r Record
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&r); err != nil {
		s.cfg.OnBadLine(n, fmt.Errorf("not a JSON record: %w", err))
		return Record{}, false
	}
	if dec.More() {
		s.cfg.OnBadLine(n, errors.New("more than one JSON value on the line"))
		return Record{}, false
	}
	if err := check(r); err != nil {
		s.cfg.OnBadLine(n, err)
		return Record{}, false
	}
	return r, true
}

// lineReader reads numbered lines of a plain or gzip file.
type lineReader struct {
	f  *os.File
	gz *gzip.Reader
	br *bufio.Reader
	n  int
}

func openLines(path string) (*lineReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("source.file: %w", err)
	}
	lr := &lineReader{f: f}
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("source.file %s: not gzip: %w", path, err)
		}
		lr.gz, r = gz, gz
	}
	lr.br = bufio.NewReaderSize(r, 1<<16)
	return lr, nil
}

// next returns the next line (without its newline) and its number. A line
// over maxLine is returned empty-handed as an error-free bad line: the
// caller sees it through parse as "not a JSON record".
func (lr *lineReader) next() ([]byte, int, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := lr.br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > maxLine {
				tooLong, buf = true, []byte("line too long")
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			if len(chunk) == 0 && len(buf) == 0 {
				return nil, 0, io.EOF
			}
			lr.n++
			return buf, lr.n, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("source.file: line %d: %w", lr.n+1, err)
		}
		lr.n++
		return buf, lr.n, nil
	}
}

// skip passes over the first n lines.
func (lr *lineReader) skip(n int) error {
	for lr.n < n {
		if _, _, err := lr.next(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
	return nil
}

func (lr *lineReader) close() {
	if lr.gz != nil {
		_ = lr.gz.Close()
	}
	_ = lr.f.Close()
}
