package redisretry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestTransient(t *testing.T) {
	reply := func(s string) error { return replyErr(s) }
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"redis.Nil", redis.Nil, false},
		{"a demoted master", reply("READONLY You can't write against a read only replica."), true},
		{"a slot being migrated", reply("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{"moved", reply("MOVED 3999 127.0.0.1:6381"), true},
		{"ask", reply("ASK 3999 127.0.0.1:6381"), true},
		{"a flushed script", reply("NOSCRIPT No matching script. Please use EVAL."), true},
		{"loading", reply("LOADING Redis is loading the dataset in memory"), true},
		{"cluster down", reply("CLUSTERDOWN The cluster is down"), true},
		{"a blocked read cut short", reply("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"), true},
		{"a write in a script on a replica", reply("ERR Error running script: @user_script:3: READONLY You can't write against a read only replica."), true},
		{"wrapped", fmt.Errorf("append 3 events: %w", reply("READONLY You can't write against a read only replica.")), true},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"a script's own error", reply("ERR user_script:1: bad argument"), false},
		{"wrong type", reply("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{"no permission", reply("NOPERM this user has no permissions to run the 'xadd' command"), false},
		{"a cancelled context", context.Canceled, false},
	} {
		if got := Transient(tt.err); got != tt.want {
			t.Errorf("%s: Transient(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

// Do tries a transient error again with growing pauses until it passes,
// gives up on any other error at once, and stops after Within.
func TestDo(t *testing.T) {
	var pauses []time.Duration
	p := Policy{Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond, Within: 200 * time.Millisecond,
		Sleep: func(_ context.Context, d time.Duration) error { pauses = append(pauses, d); return nil }}
	readonly := replyErr("READONLY You can't write against a read only replica.")
	calls := 0
	err := p.Do(context.Background(), func(context.Context) error {
		if calls++; calls < 4 {
			return readonly
		}
		return nil
	})
	if err != nil || calls != 4 || len(pauses) != 3 || pauses[0] < 10*time.Millisecond || pauses[2] < 40*time.Millisecond {
		t.Fatalf("err %v after %d calls, pauses %v; want nil after 4 calls, pauses growing from 10 ms to 40 ms", err, calls, pauses)
	}
	calls = 0
	perm := errors.New("WRONGTYPE")
	if err := p.Do(context.Background(), func(context.Context) error { calls++; return perm }); err != perm || calls != 1 {
		t.Fatalf("a permanent error: %v after %d calls, want it after 1", err, calls)
	}
	pauses, calls = nil, 0
	if err := p.Do(context.Background(), func(context.Context) error { calls++; return readonly }); !errors.Is(err, readonly) {
		t.Fatalf("a failover that does not end: %v, want the last READONLY", err)
	}
	var total time.Duration
	for _, d := range pauses {
		total += d
	}
	if total < 200*time.Millisecond || total > 300*time.Millisecond {
		t.Fatalf("waited %s in all, want about Within (200 ms)", total)
	}
}

// replyErr is an error reply as go-redis hands it over (a redis.Error).
type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}
