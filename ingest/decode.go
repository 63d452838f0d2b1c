package ingest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/streamsync/streamsync/event"
)

// errTooMany stops a body that holds more items than a request may carry.
var errTooMany = errors.New("too many items")

// eachItem reads an ingest body — one JSON object, or a JSON array of
// values — and calls fn with each item, unparsed, as it is read, so that
// no more than one item is held at a time. It stops with errTooMany before
// the (max+1)-th item, with an error matching event.ErrNotJSON when the
// body is not such JSON, and with the reader's error (a body too large,
// too slow) as it is. It returns the items read.
func eachItem(r io.Reader, max int, fn func(i int, item json.RawMessage)) (int, error) {
	src := &readErr{r: r}
	br := bufio.NewReader(src)
	first, err := firstByte(br)
	if err != nil {
		return 0, err
	}
	notJSON := func(err error) error {
		if src.err != nil {
			return src.err // the body could not be read: too large, too slow, cut
		}
		return fmt.Errorf("%w: %w", event.ErrNotJSON, err)
	}
	dec := json.NewDecoder(br)
	n := 0
	switch first {
	case '{':
		var item json.RawMessage
		if err := dec.Decode(&item); err != nil {
			return 0, notJSON(err)
		}
		fn(0, item)
		n = 1
	case '[':
		if _, err := dec.Token(); err != nil {
			return 0, notJSON(err)
		}
		for dec.More() {
			if n == max {
				return n, errTooMany
			}
			var item json.RawMessage
			if err := dec.Decode(&item); err != nil {
				return n, notJSON(err)
			}
			fn(n, item)
			n++
		}
		if _, err := dec.Token(); err != nil { // the closing ]
			return n, notJSON(err)
		}
	default:
		return 0, event.ErrNotJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("more after the end of the JSON value")
		}
		return n, notJSON(err)
	}
	return n, nil
}

// firstByte is the first byte past JSON white space, left unread.
func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			return 0, event.ErrNotJSON
		}
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return b, br.UnreadByte()
	}
}

// readErr remembers the error of a read that failed (io.EOF is not one).
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}
