package main

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/config"
	"github.com/streamsync/streamsync/pipeline"
)

func newRedis(c config.RedisConfig) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: c.Addr, Password: c.Password, DB: c.DB})
}

func keysOf(c config.StreamConfig) pipeline.Keys {
	return pipeline.NewKeys(c.Events, c.Group, c.Dead, c.Delayed, c.Retry)
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
