package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
)

// A consumer group no configured partner reads is named in a WARN at
// start-up, with what it holds back and how to retire it; a configured
// partner's group is not.
func TestStrayGroupWarnedAtStart(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Redis")
	}
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	shards := layout.NewShards(prefix+"events", "streamsync", prefix+"dead", prefix+"delayed", prefix+"retry", 1, false)
	events := shards[0].Events
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: events, Values: []string{"id", "1"}})
	for _, g := range []string{"streamsync:erp", "streamsync:gone"} {
		if err := rdb.XGroupCreate(ctx, events, g, "0").Err(); err != nil {
			t.Fatal(err)
		}
	}
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	done := make(chan struct{})
	go func() {
		defer close(done)
		warnStrayGroups(ctx, log, rdb, shards, "streamsync", []string{"streamsync:erp"}, 5_000_000, time.Hour)
	}()
	testenv.WaitFor(t, 5*time.Second, "a WARN naming the stray group", func() bool {
		return strings.Contains(logs.String(), "group=streamsync:gone")
	})
	cancel()
	<-done
	out := logs.String()
	for _, want := range []string{"level=WARN", "streamsync partner retire gone", "behind=1", "max_len_hard=5000000"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "group=streamsync:erp") {
		t.Errorf("the configured partner's group was warned about:\n%s", out)
	}
}
