package streams

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnsureGroup creates the consumer group (and the stream), reading from the
// stream's start, when missing. A group that exists already is not an error.
func EnsureGroup(ctx context.Context, rdb redis.UniversalClient, stream, group string) error {
	err := rdb.XGroupCreateMkStream(ctx, stream, group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create group %s on %s: %w", group, stream, err)
	}
	return nil
}

// RecreateGroup makes the stream and its consumer group again when err says
// that the group is missing (NOGROUP: the stream was deleted, flushed or
// evicted, or the group destroyed). It reports whether it did; every
// XREADGROUP and XAUTOCLAIM loop calls it, so that none stops for good.
func RecreateGroup(ctx context.Context, rdb redis.UniversalClient, stream, group string, err error) bool {
	if err == nil || !strings.HasPrefix(err.Error(), "NOGROUP") {
		return false
	}
	return EnsureGroup(ctx, rdb, stream, group) == nil
}

// ReadGroup is one XREADGROUP of up to n entries of one stream after id (">"
// for new ones); block < 0 does not block. No entries is not an error.
func ReadGroup(ctx context.Context, rdb redis.UniversalClient, stream, group, consumer, id string, n int, block time.Duration) ([]redis.XMessage, error) {
	res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: group, Consumer: consumer, Streams: []string{stream, id}, Count: int64(n), Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) || err == nil && len(res) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return res[0].Messages, nil
}
