package reconcile

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Against values (docs/reconcile.md).
const (
	AgainstSource = "source"
	AgainstLedger = "ledger"
)

// Run statuses.
const (
	StatusEqual       = "equal"       // no differences: exit 0
	StatusDifferences = "differences" // differences found (repaired or not): exit 1
	StatusFailed      = "failed"      // the run could not be done: exit 2
)

// Report is one run's outcome, as `streamsync reconcile` prints it and
// reconcile_runs keeps it.
type Report struct {
	RunID    string    `json:"run_id"`
	Against  string    `json:"against"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Ours     int64     `json:"ours"`
	Theirs   int64     `json:"theirs"`
	Equal    int64     `json:"equal"`
	Missing  int64     `json:"missing"`
	Extra    int64     `json:"extra"`
	Behind   int64     `json:"behind"`
	Ahead    int64     `json:"ahead"`
	Differs  int64     `json:"differs"`
	Repaired int64     `json:"repaired"`
	// Rechecked is the differences the lists suggested that were read
	// again by point reads; Cleared those the point reads found equal (or
	// gone from both sides), which are neither listed nor repaired.
	Rechecked   int64    `json:"rechecked"`
	Cleared     int64    `json:"cleared"`
	Status      string   `json:"status"`
	Error       string   `json:"error,omitempty"`
	Entities    []string `json:"entities"`
	Accounts    []string `json:"accounts"`
	Recent      string   `json:"recent,omitempty"`
	Notes       []string `json:"notes"`
	Differences []Diff   `json:"differences"`
	// Database is clickhouse.database, where reconcile_diffs keeps every
	// difference; the table output names it in its hint.
	Database string `json:"-"`
}

// Found is the number of differences of every class.
func (r Report) Found() int64 { return r.Missing + r.Extra + r.Behind + r.Ahead + r.Differs }

// ExitCode is docs/reconcile.md's exit status: 0 equal, 1 differences found (even
// when repaired), 2 the run could not be done.
func (r Report) ExitCode() int {
	switch r.Status {
	case StatusEqual:
		return 0
	case StatusDifferences:
		return 1
	}
	return 2
}

func (r *Report) set(c counts) {
	r.Ours, r.Theirs, r.Equal = c.Ours, c.Theirs, c.Equal
	r.Missing, r.Extra, r.Behind, r.Ahead, r.Differs = c.Missing, c.Extra, c.Behind, c.Ahead, c.Differs
}

// ByClass is the count of a difference class.
func (r Report) ByClass(class string) int64 {
	switch class {
	case ClassMissing:
		return r.Missing
	case ClassExtra:
		return r.Extra
	case ClassBehind:
		return r.Behind
	case ClassAhead:
		return r.Ahead
	case ClassDiffers:
		return r.Differs
	case ClassEqual:
		return r.Equal
	}
	return 0
}

var classHelp = map[string]string{
	ClassEqual:   "same data",
	ClassMissing: "ours only: the partner lacks it",
	ClassExtra:   "theirs only: we do not have it",
	ClassBehind:  "the partner's version is lower",
	ClassAhead:   "the partner's version is higher (never repaired)",
	ClassDiffers: "same version, different data",
}

// WriteJSON prints the report as one JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	if r.Differences == nil {
		r.Differences = []Diff{}
	}
	if r.Notes == nil {
		r.Notes = []string{}
	}
	return json.NewEncoder(w).Encode(r)
}

// WriteTable prints a summary per class, the notes and the first differences.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "run %s against %s: %s (%s)\n", r.RunID, r.Against, r.Status, r.Finished.Sub(r.Started).Round(time.Millisecond))
	if r.Error != "" {
		fmt.Fprintf(tw, "error: %s\n", r.Error)
	}
	fmt.Fprintf(tw, "ours\t%d\t\ntheirs\t%d\t\n", r.Ours, r.Theirs)
	for _, c := range append([]string{ClassEqual}, DiffClasses...) {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", c, r.ByClass(c), classHelp[c])
	}
	if r.Rechecked > 0 {
		fmt.Fprintf(tw, "rechecked\t%d\tdifferences the lists suggested, read again one by one\n", r.Rechecked)
		fmt.Fprintf(tw, "cleared\t%d\tfound equal when read again (not listed, not repaired)\n", r.Cleared)
	}
	fmt.Fprintf(tw, "repaired\t%d\tevents appended\n", r.Repaired)
	for _, n := range r.Notes {
		fmt.Fprintf(tw, "note: %s\n", n)
	}
	if len(r.Differences) > 0 {
		fmt.Fprintf(tw, "\nfirst differences:\nCLASS\tENTITY\tKEY\tACCOUNT\tOUR VERSION\tTHEIR VERSION\n")
		for _, d := range r.Differences {
			fmt.Fprintf(tw, "%s\t%s\t%q\t%s\t%s\t%s\n", d.Class, d.Entity, d.Key, d.Account, ver(d.OurVersion), ver(d.TheirVersion))
		}
		if n := r.Found(); n > int64(len(r.Differences)) {
			fmt.Fprintf(tw, "… and %d more (SELECT * FROM %s WHERE run_id = '%s')\n", n-int64(len(r.Differences)), r.diffsTable(), r.RunID)
		}
	}
	return tw.Flush()
}

// diffsTable is reconcile_diffs, qualified by the database when known.
func (r Report) diffsTable() string {
	if r.Database == "" {
		return DiffsTable
	}
	return r.Database + "." + DiffsTable
}

func ver(v int64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprint(v)
}
