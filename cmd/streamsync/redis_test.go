package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/config"
)

// A Cluster node given as one Redis answers MOVED/ASK/CLUSTERDOWN, one Redis
// given as a Cluster "cluster support disabled": the error then names the
// settings to change; every other error stays as it was.
func TestRedisErrorsHintAtClusterSettings(t *testing.T) {
	plain := config.RedisConfig{Addr: "127.0.0.1:17002"}
	cluster := config.RedisConfig{Addrs: []string{"127.0.0.1:16379"}, Cluster: true}
	tests := []struct {
		err  error
		c    config.RedisConfig
		want string // "" means no hint
	}{
		{errors.New("MOVED 795 127.0.0.1:17001"), plain, "redis.addrs"},
		{fmt.Errorf("status: %w", errors.New("MOVED 795 127.0.0.1:17001")), plain, "redis.cluster: true"},
		{errors.New("ASK 795 127.0.0.1:17001"), plain, "redis.addrs"},
		{errors.New("CLUSTERDOWN The cluster is down"), plain, "redis.cluster: true"},
		{errors.New("redis.addr 127.0.0.1:16379: ERR This instance has cluster support disabled"), cluster, "redis.cluster: false"},
		{errors.New("CLUSTERDOWN The cluster is down"), cluster, ""}, // the settings are right: no hint
		{errors.New("ERR unknown command 'TASK 12 x'"), plain, ""},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), plain, ""},
	}
	for _, tt := range tests {
		got := withRedisHint(tt.err, tt.c)
		if !errors.Is(got, tt.err) {
			t.Errorf("%v: the hint lost the error: %v", tt.err, got)
		}
		hinted := strings.Contains(got.Error(), "hint:")
		if tt.want == "" && hinted || tt.want != "" && !strings.Contains(got.Error(), tt.want) {
			t.Errorf("%v (cluster %v) = %q, want hint %q", tt.err, tt.c.IsCluster(), got, tt.want)
		}
	}
	if withRedisHint(nil, plain) != nil {
		t.Error("nil error got a hint")
	}
}
