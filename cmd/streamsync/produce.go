package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/spf13/pflag"
	"github.com/streamsync/streamsync/demo"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/pipeline"
)

func produceFlags(fs *pflag.FlagSet) {
	fs.Int("accounts", 20, "organisers (accounts) in the story")
	fs.Int("events", 600, "about how many entries to append")
	fs.Float64("rate", 100, "entries per second; 0 for as fast as possible")
	fs.Uint64("seed", uint64(time.Now().Unix()), "seed of the story")
}

// runProduce appends a conference-registration story to the events stream
// through Watermill's Redis Streams publisher, with flat fields (docs/events.md).
func runProduce(ctx context.Context, e *env) error {
	accounts, _ := e.fs.GetInt("accounts")
	events, _ := e.fs.GetInt("events")
	rate, _ := e.fs.GetFloat64("rate")
	seed, _ := e.fs.GetUint64("seed")
	rdb, err := connectRedis(ctx, e.cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	pub, err := redisstream.NewPublisher(redisstream.PublisherConfig{Client: rdb, Marshaller: pipeline.EntryMarshaller{}}, watermill.NopLogger{})
	if err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	shards := shardsOf(e.cfg)
	story := demo.Story(demo.StoryConfig{Seed: seed, Accounts: accounts, Events: events, PartnerName: e.cfg.Sink.PartnerName})
	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer t.Stop()
		tick = t.C
	}
	kinds := map[string]int{}
	publish := func(i int, en demo.Entry) error {
		kv := append([]string(nil), en.Fields...)
		account := ""
		for j := 0; j+1 < len(kv); j += 2 {
			if kv[j] == "account" {
				account = kv[j+1]
			}
		}
		if en.Kind != "malformed" {
			kv = append(kv, "ts", strconv.FormatInt(time.Now().UnixMilli(), 10))
		}
		payload := []byte(layout.PackFields(kv)) // the fields byte for byte, as EntryMarshaller carries them
		if err := pub.Publish(shards.Stream(account), message.NewMessage(strconv.Itoa(i), payload)); err != nil {
			return fmt.Errorf("append entry %d: %w", i, err)
		}
		kinds[en.Kind]++
		return nil
	}
	for i, en := range story {
		if tick != nil {
			select {
			case <-ctx.Done():
				// Interrupted: children already appended get their parents, so
				// that the next run does not dead-letter them parent_missing.
				owed := owedParents(story[:i], story[i:])
				for j, p := range owed {
					if err := publish(i+j, p); err != nil {
						return err
					}
				}
				e.log.Info("story interrupted; the parents of the children already appended were appended too",
					"entries", i+len(owed), "parents", len(owed))
				return nil
			case <-tick:
			}
		}
		if err := publish(i, en); err != nil {
			return err
		}
	}
	e.log.Info("story appended", "stream", e.cfg.Stream.Events, "entries", len(story), "events", kinds["event"], "echoes", kinds["echo"],
		"malformed", kinds["malformed"], "accounts", accounts, "seed", seed)
	return nil
}

// owedParents returns, in story order, the entries of rest that create or
// update a record some entry of done names as its parent and that done does
// not hold: what an interrupted story still owes its children.
func owedParents(done, rest []demo.Entry) []demo.Entry {
	field := func(en demo.Entry, name string) string {
		for j := 0; j+1 < len(en.Fields); j += 2 {
			if en.Fields[j] == name {
				return en.Fields[j+1]
			}
		}
		return ""
	}
	needed, have := map[string]bool{}, map[string]bool{}
	for _, en := range done {
		if pk := field(en, "parent_key"); pk != "" {
			needed[field(en, "parent_entity")+"/"+pk] = true
		}
		if en.Kind == "event" {
			have[field(en, "entity")+"/"+field(en, "key")] = true
		}
	}
	var owed []demo.Entry
	for _, en := range rest {
		rec := field(en, "entity") + "/" + field(en, "key")
		if en.Kind == "event" && needed[rec] && !have[rec] {
			owed = append(owed, en)
		}
	}
	return owed
}
