package attemptlog

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Column is one column of streamsync.attempts (docs/operations.md).
type Column struct {
	Name string
	Type string
}

// Columns of the attempt log, in the order rows carry them. The pipeline
// writes rows with these field names to the attempts stream, all but the
// last two: partner and direction, which the exporter sets from the stream it reads
// (ExporterConfig.Partner; docs/operations.md, "Attempt log").
var Columns = []Column{
	{"ts", "DateTime('UTC')"},
	{"ts_ms", "UInt16"},
	{"event_id", "String"},
	{"row_id", "String"},
	{"stream_id", "String"},
	{"account", "String"},
	{"entity", "String"},
	{"key", "String"},
	{"parent_entity", "String"},
	{"parent_key", "String"},
	{"chain_id", "String"},
	{"op", "String"},
	{"version", "Int64"},
	{"attempt", "UInt16"},
	{"step", "String"},
	{"http_status", "UInt16"},
	{"latency_us", "UInt32"},
	{"error", "String"},
	{"instance", "String"},
	{PartnerColumn, "String"},
	{DirectionColumn, "String"},
}

// PartnerColumn names the partner whose pipeline made the step. A table
// from before it existed gets it with the old rows reading as the partner
// of the single-partner settings (SchemaOptions.OldRowsPartner).
const PartnerColumn = "partner"

// DirectionColumn says which way the step's event went: "out" to the
// partner, "in" from a two-way partner to our own system
// (docs/partners.md, "Two-way sync"). Rows from before it read as "out".
const DirectionColumn = "direction"

// The directions of DirectionColumn.
const (
	DirectionOut = "out"
	DirectionIn  = "in"
)

// columnList is "`ts`, `ts_ms`, …" for statements (18.16 needs an explicit
// list in a batch insert).
func columnList() string {
	names := make([]string, len(Columns))
	for i, c := range Columns {
		names[i] = "`" + c.Name + "`"
	}
	return strings.Join(names, ", ")
}

// Row is one attempt-log row as the attempts stream holds it: column name →
// text.
type Row map[string]string

// values converts a row to the column types, in column order.
func (r Row) values() ([]any, error) {
	out := make([]any, len(Columns))
	for i, c := range Columns {
		s := r[c.Name]
		switch c.Type {
		case "DateTime('UTC')":
			sec, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not unix seconds", c.Name, s)
			}
			out[i] = time.Unix(sec, 0).UTC()
		case "UInt16":
			n, err := strconv.ParseUint(orZero(s), 10, 16)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not a UInt16", c.Name, s)
			}
			out[i] = uint16(n)
		case "UInt32":
			n, err := strconv.ParseUint(orZero(s), 10, 32)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not a UInt32", c.Name, s)
			}
			out[i] = uint32(n)
		case "Int64":
			n, err := strconv.ParseInt(orZero(s), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not an Int64", c.Name, s)
			}
			out[i] = n
		default:
			if c.Name == PartnerColumn && s == "" {
				s = DefaultPartner // a row from a writer that does not name one
			}
			if c.Name == DirectionColumn && s == "" {
				s = DirectionOut
			}
			out[i] = s
		}
	}
	if r["row_id"] == "" {
		return nil, fmt.Errorf("row_id is empty")
	}
	return out, nil
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}
