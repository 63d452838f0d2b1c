package apiclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxAnswer is how much of an answer's body is read to decide on it
// (1 MiB): far more than any error or status answer needs, little enough
// that a stranger's answer cannot exhaust memory. Only what is stored of an
// answer (a dead letter's dead_error, an attempt row's error, a log line) is
// clipped further, after the decision.
const MaxAnswer = 1 << 20

// ErrAnswerCut marks an answer whose body ended early: the connection broke
// or timed out while the body was read. Such an answer is not trusted;
// asking again may get it whole.
var ErrAnswerCut = errors.New("answer cut short")

// Body is what was read of an answer's body.
type Body struct {
	// Bytes is the body, or its first limit bytes when it is longer.
	Bytes []byte
	// Over is true when the body was longer than the limit it was read
	// with: Bytes is its start, and the rest was not read.
	Over bool
}

// ReadBody reads r up to limit bytes (limit+1 to learn whether there is
// more). A read error (the body cut short) is returned wrapping
// ErrAnswerCut, with what was read until then.
func ReadBody(r io.Reader, limit int64) (Body, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	var body Body
	if int64(len(b)) > limit {
		body = Body{Bytes: b[:limit], Over: true}
	} else {
		body = Body{Bytes: b}
	}
	if err != nil {
		return body, fmt.Errorf("%w after %d bytes: %w", ErrAnswerCut, len(b), err)
	}
	return body, nil
}

// JSONString reads the string field name of a JSON object body, as
// json.Unmarshal into a struct with that one field would (keys matched
// case-insensitively, the last one of a name wins, null leaves it unset),
// token by token, so that it also works on the start of a body that was
// longer than it was read (b.Over): a field whose value was read whole
// counts, one the cut went through does not. found is false when the body
// is not a JSON object, holds no such field, or the field is not a string;
// a complete body (not Over) must be valid JSON as a whole.
func JSONString(b Body, name string) (value string, found bool) {
	dec := json.NewDecoder(bytes.NewReader(b.Bytes))
	// ended says what an error of the decoder leaves: a body read whole must
	// be valid JSON to the end; the start of a longer one keeps the fields
	// read before the cut.
	ended := func(err error) (string, bool) {
		if b.Over && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
			return value, found
		}
		return "", false
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ended(err)
	}
	for {
		t, err := dec.Token()
		if err != nil {
			return ended(err)
		}
		if t == json.Delim('}') {
			break
		}
		if k, _ := t.(string); !strings.EqualFold(k, name) {
			if err := skipValue(dec); err != nil {
				return ended(err)
			}
			continue
		}
		v, err := dec.Token()
		if err != nil {
			return ended(err)
		}
		switch v := v.(type) {
		case string:
			value, found = v, true
		case nil:
		case json.Delim:
			return "", false // an object or array where a string belongs: json.Unmarshal fails
		default:
			return "", false
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if b.Over && errors.Is(err, io.ErrUnexpectedEOF) {
			return value, found
		}
		return "", false // something after the object
	}
	return value, found
}

// skipValue reads past one value, however deeply nested.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		t, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}
