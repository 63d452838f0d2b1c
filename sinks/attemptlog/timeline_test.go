package attemptlog

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTimeline(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ClickHouse")
	}
	conn, db := seed(t)
	since := time.Now().Add(-time.Hour)
	tests := []struct {
		name      string
		q         TimelineQuery
		chains    string // chain ids, most recent first
		steps     string // steps of the first chain
		truncated bool   // more chains than the limit
	}{
		{"by event id", TimelineQuery{EventID: "A"}, "A", "retry_scheduled/1/503/1500,retry_scheduled/2/503/1500,delivered/3/200/2000", false},
		{"by record", TimelineQuery{Entity: "sub", Key: "d"}, "D", "parked/0/0/0,released/0/0/0,dead/0/0/0", false},
		{"by account", TimelineQuery{Account: "acc2"}, "D,P,C", "parked/0/0/0,released/0/0/0,dead/0/0/0", false},
		{"account, limited", TimelineQuery{Account: "acc1", Limit: 1}, "B", "dead/1/422/900", true},
		{"account, at its limit", TimelineQuery{Account: "acc1", Limit: 2}, "B,A", "dead/1/422/900", false},
		{"a duplicated row collapses", TimelineQuery{EventID: "G"}, "G", "delivered/1/200/1000", false},
		{"unknown", TimelineQuery{EventID: "nope"}, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.Since = since
			got, truncated, err := Timeline(context.Background(), conn, db, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if truncated != tt.truncated {
				t.Errorf("truncated %v, want %v", truncated, tt.truncated)
			}
			var ids, steps []string
			for _, c := range got {
				ids = append(ids, c.ChainID)
			}
			if len(got) > 0 {
				for _, s := range got[0].Steps {
					steps = append(steps, s.Step+"/"+itoa(int(s.Attempt))+"/"+itoa(int(s.HTTPStatus))+"/"+itoa(int(s.LatencyUS)))
				}
				if got[0].LastStep != got[0].Steps[len(got[0].Steps)-1].Step || got[0].Steps[0].StreamID == "" {
					t.Errorf("chain %+v", got[0])
				}
			}
			if strings.Join(ids, ",") != tt.chains || strings.Join(steps, ",") != tt.steps {
				t.Fatalf("chains %v steps %v; want %s / %s", ids, steps, tt.chains, tt.steps)
			}
		})
	}
	if _, _, err := Timeline(context.Background(), conn, db, TimelineQuery{Entity: "main"}); !errors.Is(err, ErrNoQuery) {
		t.Fatalf("entity without key: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
