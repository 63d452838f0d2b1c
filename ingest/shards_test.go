package ingest

import (
	"github.com/streamsync/streamsync/internal/layout"
	"testing"
)

func TestUseShards(t *testing.T) {
	tests := []struct {
		name         string
		n            int
		stream       string
		routed       bool
		preparedKeys bool
	}{
		{name: "one shard: its stream, prepared events on", n: 1, stream: "ev", preparedKeys: true},
		{name: "four shards: routed, prepared events off", n: 4, routed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			shards := layout.NewShards("ev", "g", "dead", "delayed", "retry", tt.n, tt.n > 1)
			var c Config
			c.UseShards(shards)
			if c.Stream != tt.stream || (c.Route != nil) != tt.routed || (c.Keys.Prepared != "") != tt.preparedKeys {
				t.Fatalf("stream %q, routed %t, prepared keys %q", c.Stream, c.Route != nil, c.Keys.Prepared)
			}
			if tt.routed {
				if got, want := c.Route("acc-7"), shards.Stream("acc-7"); got != want {
					t.Fatalf("acc-7 routed to %q, want %q", got, want)
				}
			}
		})
	}
}
