package redisretry

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// transientPrefixes are the Redis error replies that a failover, a restart
// or a reshard answers for a while and that a later try succeeds past:
// a demoted master (READONLY), a slot on the move (TRYAGAIN, MOVED, ASK), a
// Cluster without a quorum (CLUSTERDOWN), a server loading its data
// (LOADING), a master without its replicas (MASTERDOWN, NOREPLICAS), a
// flushed script cache (NOSCRIPT: the retry sends the whole script), a
// blocked read cut short by a role change (UNBLOCKED).
var transientPrefixes = []string{"READONLY", "TRYAGAIN", "MOVED", "ASK", "CLUSTERDOWN", "LOADING", "MASTERDOWN",
	"NOREPLICAS", "NOSCRIPT", "UNBLOCKED"}

// transientText are the same seen inside a longer message: a write in a Lua
// script refused by a replica ("… READONLY You can't write …"), and
// connection failures that reached us as text only.
var transientText = []string{"READONLY You can't write", "connection refused", "connection reset", "broken pipe",
	"connection pool timeout", "i/o timeout"}

// Transient reports whether err is worth trying again after a pause: a
// reply that starts with one of transientPrefixes, or a connection that could
// not be made or broke (refused, reset, EOF, a pool or I/O timeout). nil,
// redis.Nil, a context's end, and every other reply (a script's own error,
// WRONGTYPE, NOPERM …) are not.
func Transient(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		for _, p := range transientPrefixes {
			if msg == p || strings.HasPrefix(msg, p+" ") {
				return true
			}
		}
		return strings.Contains(msg, transientText[0])
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true // a dial error or an I/O timeout
	}
	msg := err.Error()
	for _, s := range transientText {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
