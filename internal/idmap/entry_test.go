package idmap

import (
	"errors"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, v string
		want    Entry
		bad     bool
	}{
		{"id", "i|P-9", Entry{Kind: KindID, ID: "P-9"}, false},
		{"id with bars", "i|a|b|", Entry{Kind: KindID, ID: "a|b|"}, false},
		{"creating", "c|1700000000000|5|e|1", Entry{Kind: KindCreating, Until: time.UnixMilli(1700000000000).UTC(), Version: 5, EventID: "e|1"}, false},
		{"gone", "g|12", Entry{Kind: KindGone, Version: 12}, false},
		{"empty id", "i|", Entry{}, true},
		{"no kind", "P-9", Entry{}, true},
		{"unknown kind", "x|1", Entry{}, true},
		{"creating short", "c|1|2", Entry{}, true},
		{"creating not a time", "c|soon|2|e", Entry{}, true},
		{"gone negative", "g|-1", Entry{}, true},
		{"gone empty", "g|", Entry{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.v)
			if tc.bad {
				if !errors.Is(err, ErrUnreadable) {
					t.Fatalf("Parse(%q) = %+v, %v; want ErrUnreadable", tc.v, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Parse(%q) = %+v, %v; want %+v", tc.v, got, err, tc.want)
			}
		})
	}
	if IDValue("P-9") != "i|P-9" {
		t.Fatal(IDValue("P-9"))
	}
}
