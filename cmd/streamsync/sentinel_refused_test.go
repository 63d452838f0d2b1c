package main

import (
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
)

// A Sentinel set-up whose sentinels or master refuse the credentials, or
// that turns TLS on against servers speaking plain TCP, stops start-up
// within seconds with an error naming the settings to look at, not a retry
// deadline (docs/reliability.md, "Redis Sentinel"); so does a
// redis.sentinel_master the sentinels know no master by.
func TestSentinelRefusalNamesTheSetting(t *testing.T) {
	ss := testenv.Sentinel(t) // held: no failover under way while the master is asked
	env := []string{"STREAMSYNC_REDIS__SENTINEL_MASTER=" + ss.Master, "STREAMSYNC_REDIS__ADDRS=" + strings.Join(ss.Addrs, ","),
		"STREAMSYNC_ADMIN__ADDR=", "STREAMSYNC_CLICKHOUSE__ADDR=", "STREAMSYNC_LOG__LEVEL=warn"}
	if _, err := cli(t, env, "status"); err != nil {
		t.Fatalf("status through the sentinels: %v", err)
	}
	for _, tc := range []struct {
		name string
		set  []string
		want []string
	}{
		{"sentinels refuse the credentials", []string{"STREAMSYNC_REDIS__SENTINEL_USERNAME=nobody", "STREAMSYNC_REDIS__SENTINEL_PASSWORD=wrong"},
			[]string{"WRONGPASS", "redis.sentinel_username and redis.sentinel_password"}},
		{"master refuses the credentials", []string{"STREAMSYNC_REDIS__USERNAME=nobody", "STREAMSYNC_REDIS__PASSWORD=wrong"},
			[]string{"WRONGPASS", "redis.username and redis.password"}},
		{"TLS against plain TCP", []string{"STREAMSYNC_REDIS__TLS=true"},
			[]string{"redis.tls"}},
		{"no such master", []string{"STREAMSYNC_REDIS__SENTINEL_MASTER=nosuch"},
			[]string{`redis.sentinel_master: the sentinels in redis.addrs (` + strings.Join(ss.Addrs, ",") + `) know no master named "nosuch"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := cli(t, withEnv(env, tc.set...), "status")
			took := time.Since(start)
			if err == nil {
				t.Fatal("status succeeded")
			}
			t.Logf("after %s: %v", took.Round(time.Millisecond), err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "unreachable") {
				t.Errorf("error calls answering sentinels unreachable:\n%v", err)
			}
			if strings.Contains(err.Error(), "deadline exceeded") {
				t.Errorf("error is a retry deadline:\n%v", err)
			}
			if took > 5*time.Second {
				t.Errorf("refused after %s, want within 5 s (a second for each sentinel not answering a TLS handshake)", took)
			}
		})
	}
}
