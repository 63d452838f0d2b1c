package source

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// filePageSize is the records a file iterator returns per page.
const filePageSize = 1000

// maxLine bounds one line of a source file; a longer line is skipped as bad.
const maxLine = 64 << 20

type fileSource struct {
	cfg Config

	// The point-read index, built by the first Get of a plain file: the
	// byte offset of every record's line, by a hash of its entity and key
	// (index; lines that share a hash with an earlier one in more).
	indexOnce sync.Once
	indexErr  error
	index     map[uint64]int64
	more      map[uint64][]int64
	reader    *os.File
}

func newFile(cfg Config) (*fileSource, error) {
	f, err := os.Open(cfg.File)
	if err != nil {
		return nil, fmt.Errorf("source.file: %w", err)
	}
	_ = f.Close()
	return &fileSource{cfg: cfg}, nil
}

func (s *fileSource) Kind() string { return KindFile }

// Close releases the point-read index's file.
func (s *fileSource) Close() error {
	if s.reader != nil {
		return s.reader.Close()
	}
	return nil
}

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

// Get finds a record; when a key appears more than once, the highest
// version wins. A plain file is indexed by its first Get (one pass keeping
// each line's offset by a hash of its entity and key, about 40 bytes a
// record), so that reconciliation's re-check of many differences reads one
// line each instead of the whole file each; a gzip file is read through for
// every Get.
func (s *fileSource) Get(ctx context.Context, entity, key string) (Record, bool, error) {
	if strings.HasSuffix(s.cfg.File, ".gz") {
		return s.getByScan(ctx, entity, key)
	}
	s.indexOnce.Do(func() { s.indexErr = s.buildIndex(ctx) })
	if s.indexErr != nil {
		return Record{}, false, s.indexErr
	}
	h := recordHash(entity, key)
	offs := s.more[h]
	if off, ok := s.index[h]; ok {
		offs = append([]int64{off}, offs...)
	}
	var best Record
	found := false
	for _, off := range offs {
		raw, err := readLineAt(s.reader, off)
		if err != nil {
			return Record{}, false, fmt.Errorf("source.file: %w", err)
		}
		var r Record
		if json.Unmarshal(raw, &r) != nil || r.Entity != entity || r.Key != key || check(r) != nil {
			continue // another record of the same hash
		}
		if !found || r.Version > best.Version {
			best, found = r, true
		}
	}
	return best, found, nil
}

// getByScan finds a record by reading the file through.
func (s *fileSource) getByScan(ctx context.Context, entity, key string) (Record, bool, error) {
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

// buildIndex reads the file once, keeping every record line's offset.
func (s *fileSource) buildIndex(ctx context.Context) error {
	lr, err := openLines(s.cfg.File)
	if err != nil {
		return err
	}
	defer lr.close()
	s.index, s.more = map[uint64]int64{}, map[uint64][]int64{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := lr.off
		raw, _, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		var ref Ref
		if len(bytes.TrimSpace(raw)) == 0 || json.Unmarshal(raw, &ref) != nil {
			continue // bad lines are reported by the listing, not here
		}
		h := recordHash(ref.Entity, ref.Key)
		if _, taken := s.index[h]; taken {
			s.more[h] = append(s.more[h], start)
		} else {
			s.index[h] = start
		}
	}
	if s.reader, err = os.Open(s.cfg.File); err != nil {
		return fmt.Errorf("source.file: %w", err)
	}
	return nil
}

// recordHash is FNV-1a of entity, a zero byte and key.
func recordHash(entity, key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(entity))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(key))
	return h.Sum64()
}

// readLineAt reads the line that starts at off (at most maxLine bytes).
func readLineAt(f *os.File, off int64) ([]byte, error) {
	br := bufio.NewReader(io.NewSectionReader(f, off, maxLine))
	line, err := br.ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return bytes.TrimSpace(line), nil
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
	f   *os.File
	gz  *gzip.Reader
	br  *bufio.Reader
	n   int
	off int64 // bytes read so far: where the next line starts (of the uncompressed text)
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
		lr.off += int64(len(chunk))
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
