package config

import (
	"strings"
	"testing"
)

// stream.max_len_hard: 5,000,000 by default, 0 turns the bound off, and a
// bound too small to hold a moment's events stops start-up naming it.
func TestStreamMaxLenHard(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     []string
		want    int64
		wantErr bool
	}{
		{name: "default", want: 5_000_000},
		{name: "off", env: []string{"STREAMSYNC_STREAM__MAX_LEN_HARD=0"}, want: 0},
		{name: "set", env: []string{"STREAMSYNC_STREAM__MAX_LEN_HARD=200000"}, want: 200_000},
		{name: "too small", env: []string{"STREAMSYNC_STREAM__MAX_LEN_HARD=500"}, wantErr: true},
		{name: "negative", env: []string{"STREAMSYNC_STREAM__MAX_LEN_HARD=-1"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, nil, tc.env)
			if err == nil {
				err = c.Validate(SectionStream)
			}
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "stream.max_len_hard") {
					t.Fatalf("err = %v, want one naming stream.max_len_hard", err)
				}
				return
			}
			if err != nil || c.Stream.MaxLenHard != tc.want {
				t.Fatalf("max_len_hard = %d (%v), want %d", c.Stream.MaxLenHard, err, tc.want)
			}
		})
	}
}
