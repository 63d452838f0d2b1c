package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/config"
	"github.com/streamsync/streamsync/pipeline"
)

func init() { redis.SetLogger(quietRedis{}) } // go-redis' own dial retries are noise; errors reach us

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func newRedis(c config.RedisConfig) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: c.Addr, Password: c.Password, DB: c.DB, PoolSize: 256})
}

func keysOf(c config.StreamConfig) pipeline.Keys {
	return pipeline.NewKeys(c.Events, c.Group, c.Dead, c.Delayed, c.Retry)
}

// consumerName is stream.consumer, or the host name.
func consumerName(c config.StreamConfig) string {
	if c.Consumer != "" {
		return c.Consumer
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "streamsync"
}

// pingRedis fails with a message naming redis.addr when Redis does not answer.
func pingRedis(ctx context.Context, rdb *redis.Client, c config.RedisConfig) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis.addr %s: %w", c.Addr, err)
	}
	return nil
}
