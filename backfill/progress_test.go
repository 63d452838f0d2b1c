package backfill_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/backfill"
)

// Plain progress lines (stderr not a terminal): records and records/s every
// interval, the ETA when the total is known, and a last line at the end.
func TestProgressLines(t *testing.T) {
	tests := []struct {
		name  string
		total int64
		want  []string
	}{
		{"total unknown", -1, []string{"backfill r1: 100 records, 100 records/s", "backfill r1: 300 records, 100 records/s"}},
		{"total known", 1000, []string{"backfill r1: 100 records, 100 records/s of 1000, ETA 9s", "backfill r1: 300 records, 100 records/s of 1000, ETA 7s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			var out bytes.Buffer
			p := backfill.NewLines(&out, "r1", 5*time.Second, func() time.Time { return now })
			p.Start(tt.total)
			for range 3 {
				now = now.Add(time.Second)
				p.Add(100) // at 1 s a line is not due yet
			}
			if out.Len() != 0 {
				t.Fatalf("a line before the interval: %q", out.String())
			}
			now = time.Unix(1000, 0).Add(3 * time.Second)
			p.Finish()
			got := strings.Split(strings.TrimSpace(out.String()), "\n")
			if got[len(got)-1] != tt.want[1] {
				t.Fatalf("last line %q, want %q", got[len(got)-1], tt.want[1])
			}
			out.Reset()
			now = time.Unix(1000, 0)
			p = backfill.NewLines(&out, "r1", 500*time.Millisecond, func() time.Time { return now })
			p.Start(tt.total)
			now = now.Add(time.Second)
			p.Add(100)
			if line := strings.TrimSpace(out.String()); line != tt.want[0] {
				t.Fatalf("line %q, want %q", line, tt.want[0])
			}
		})
	}
}
