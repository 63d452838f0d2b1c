package main

import (
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
)

// streams gives a test stream names of its own in the test Redis (deleted
// when it ends) and the environment that points streamsync at them.
func streams(t *testing.T, consumer string) (*redis.Client, layout.Keys, []string) {
	t.Helper()
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	keys := layout.NewKeys(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry")
	env := []string{
		"STREAMSYNC_REDIS__ADDR=" + testenv.RedisAddr(t), "STREAMSYNC_STREAM__EVENTS=" + keys.Events, "STREAMSYNC_STREAM__GROUP=g",
		"STREAMSYNC_STREAM__DEAD=" + keys.Dead, "STREAMSYNC_STREAM__DELAYED=" + keys.Delayed, "STREAMSYNC_STREAM__RETRY=" + keys.Retry,
		"STREAMSYNC_STREAM__CONSUMER=" + consumer, "STREAMSYNC_ADMIN__ADDR=", "STREAMSYNC_LOG__LEVEL=warn",
	}
	return rdb, keys, env
}
