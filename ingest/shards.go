package ingest

import "github.com/streamsync/streamsync/internal/layout"

// UseShards points c at the events streams of shards (docs/scaling.md). With
// one shard every event goes to its stream, and prepared events are on, kept
// under its keys; with several each event goes to its account's shard, and
// prepared events, which keep to one shard's keys, are off.
func (c *Config) UseShards(shards layout.Shards) {
	switch {
	case len(shards) == 1:
		c.Stream, c.Route, c.Keys = shards[0].Events, nil, shards[0]
	case len(shards) > 1:
		c.Stream, c.Route, c.Keys = "", shards.Stream, layout.Keys{}
	}
}
