package main

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// tableWriter is the CLI's table output: a tabwriter whose text shows bytes
// that are not UTF-8 as \xNN escapes. Field values are bytes as producers
// wrote them (docs/events.md); a raw 0xff is tabwriter's escape character and
// would break every column after it, and raw bytes garble a terminal.
type tableWriter struct{ *tabwriter.Writer }

func newTable(w io.Writer) tableWriter {
	return tableWriter{tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
}

// Write passes p on, with bytes that are not UTF-8 escaped.
func (t tableWriter) Write(p []byte) (int, error) {
	if utf8.Valid(p) {
		return t.Writer.Write(p)
	}
	_, err := t.Writer.Write([]byte(escapeInvalid(string(p))))
	return len(p), err
}

// escapeInvalid writes each byte of s that is not part of valid UTF-8 as \xNN.
func escapeInvalid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// cell renders one value of a query's row for a table: times in UTC, lists
// (a chain's steps: a list of tuples) as their items, a tuple's fields
// separated by spaces and the items by " | ".
func cell(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case time.Time:
		return t.UTC().Format(time.DateTime)
	case string:
		return t
	case []byte:
		return string(t)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return cell(rv.Elem().Interface())
	}
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return fmt.Sprint(v)
	}
	parts := make([]string, rv.Len())
	nested := false
	for i := range parts {
		el := rv.Index(i)
		for el.Kind() == reflect.Interface && !el.IsNil() {
			el = el.Elem()
		}
		if el.Kind() == reflect.Slice || el.Kind() == reflect.Array {
			nested = true
		}
		parts[i] = cell(rv.Index(i).Interface())
	}
	if nested {
		return strings.Join(parts, " | ")
	}
	return strings.Join(parts, " ")
}
