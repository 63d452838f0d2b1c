package inspect

import "testing"

// DeadFilter.Since keeps the dead letters that died at or after it (the
// backfill's --replay-dead, docs/backfill.md).
func TestDeadFilterSince(t *testing.T) {
	tests := []struct {
		name string
		f    DeadFilter
		at   int64
		want bool
	}{
		{"no since: any time", DeadFilter{Reason: "exhausted"}, 5, true},
		{"died before", DeadFilter{Reason: "exhausted", Since: 10}, 9, false},
		{"died at", DeadFilter{Reason: "exhausted", Since: 10}, 10, true},
		{"died after", DeadFilter{Reason: "exhausted", Since: 10}, 11, true},
		{"other reason", DeadFilter{Reason: "parent_missing", Since: 10}, 11, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.match(DeadLetter{Reason: "exhausted", At: tt.at}, tt.f.idSet()); got != tt.want {
				t.Fatalf("match = %v, want %v", got, tt.want)
			}
		})
	}
	if (DeadFilter{Since: 10}).Empty() != true {
		t.Fatal("Since alone names dead letters")
	}
}
