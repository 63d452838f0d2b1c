package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/lease"
)

// consumerTTL is how long a consumer name stays taken after its process
// died; a live process renews it every second.
const consumerTTL = 3 * time.Second

// maxConsumerNames bounds the names a default takes from: Name, Name-2, …
const maxConsumerNames = 1000

// ErrConsumerInUse is returned when another running process has the
// consumer name set by stream.consumer.
var ErrConsumerInUse = errors.New("stream.consumer is used by another running process")

// NameConfig says which consumer name a process takes (stream.consumer).
type NameConfig struct {
	// Name is the consumer name; with Auto, the first one tried.
	Name string
	// Auto: Name is a default (the host name), not one the user set. When a
	// running process has it, the first of Name-2, Name-3, … that none has
	// is taken instead, so that several processes on one host need no
	// settings of their own (docs/scaling.md).
	Auto   bool
	Logger *slog.Logger
}

// ConsumerName is a consumer name of the group held by this process: two
// running processes of one name would both take the same shards (a shard's
// owner lease holds the name) and read each other's pending entries. The
// hold is a key per name (layout.Keys.ConsumerName) whose value names this life of
// the process — host, process id, a random part — renewed every second
// until Release; a process that dies lets it lapse within consumerTTL.
type ConsumerName struct {
	rdb    redis.UniversalClient
	name   string
	key    string
	holder string
	log    *slog.Logger

	once sync.Once
	stop chan struct{}
	done chan struct{}
}

// TakeConsumerName takes cfg.Name, or with cfg.Auto the first free name of
// Name, Name-2, …, and keeps it until Release.
//
// A name held by a process that looks like a former life of this one (the
// same host, and a process id that is no longer running or is this one's:
// a restart after a crash, within consumerTTL) is waited for, up to twice
// consumerTTL, so that a restarted process keeps its name and its pending
// entries. A name the user set (not Auto) that is still renewed after that
// wait is ErrConsumerInUse; a default one is skipped at once when another
// live process has it.
func TakeConsumerName(ctx context.Context, rdb redis.UniversalClient, shards layout.Shards, cfg NameConfig) (*ConsumerName, error) {
	if cfg.Name == "" {
		return nil, errors.New("consumer name: a name is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	holder := nameHolder()
	tries := 1
	if cfg.Auto {
		tries = maxConsumerNames
	}
	for i := 1; i <= tries; i++ {
		name := cfg.Name
		if i > 1 {
			name = cfg.Name + "-" + strconv.Itoa(i)
		}
		key := shards[0].ConsumerName(name)
		ok, err := holdName(ctx, rdb, key, holder, !cfg.Auto)
		if err != nil {
			return nil, fmt.Errorf("stream.consumer %q: %w", name, err)
		}
		if !ok {
			if !cfg.Auto {
				return nil, fmt.Errorf("%w: %q is renewed by a live process; give every process its own stream.consumer, or leave it empty to have one picked", ErrConsumerInUse, name)
			}
			continue
		}
		if i > 1 {
			cfg.Logger.Info("the default consumer name is used by another running process; this one takes the next free one", "default", cfg.Name, "consumer", name)
		}
		n := &ConsumerName{rdb: rdb, name: name, key: key, holder: holder, log: cfg.Logger, stop: make(chan struct{}), done: make(chan struct{})}
		ownHolders.Store(holder, true)
		go n.keep()
		return n, nil
	}
	return nil, fmt.Errorf("%w: %s and the %d names after it are all taken", ErrConsumerInUse, cfg.Name, maxConsumerNames-1)
}

// holdName takes key for holder. Held by a live process, it answers false:
// at once, unless wait says to wait out any holder; held by what looks like
// a former life of this process, after waiting up to twice consumerTTL for
// that hold to lapse.
func holdName(ctx context.Context, rdb redis.UniversalClient, key, holder string, wait bool) (bool, error) {
	deadline := time.Now().Add(2 * consumerTTL)
	for {
		taken, other, err := lease.New(rdb, key, holder, consumerTTL).TakeIfFree(ctx)
		if taken || err != nil {
			return taken, err
		}
		if (!wait && !formerLife(other)) || time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// nameHolder names this life of the process: "host:pid:random".
func nameHolder() string {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
}

// ownHolders are the holders of the names this process holds now (a
// process may run more than one pipeline).
var ownHolders sync.Map

// formerLife reports whether a name's holder looks like a former life of
// this process: on this host, with a process id that no longer runs, or is
// this one's (a container restarted under the same id) but none of the
// holds this process keeps. It only ever makes a process wait for the hold
// to lapse, never take it: another host may share the host name.
func formerLife(holder string) bool {
	if _, ours := ownHolders.Load(holder); ours {
		return false
	}
	parts := strings.Split(holder, ":")
	if len(parts) < 3 {
		return false
	}
	host, _ := os.Hostname()
	if strings.Join(parts[:len(parts)-2], ":") != host {
		return false
	}
	pid, err := strconv.Atoi(parts[len(parts)-2])
	if err != nil {
		return false
	}
	return pid == os.Getpid() || !processRuns(pid)
}

// Name is the consumer name held.
func (n *ConsumerName) Name() string { return n.name }

// keep renews the hold every second until Release. A hold that lapsed (this
// process stalled past it) is taken again, unless another process has the
// name by then: that is logged as an ERROR, since both now read as one.
func (n *ConsumerName) keep() {
	defer close(n.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		l := lease.New(n.rdb, n.key, n.holder, consumerTTL)
		if ok, err := l.Renew(ctx); err == nil && !ok {
			if ok, err := l.Take(ctx); err == nil && !ok {
				n.log.Error("another running process uses this consumer name; give every process its own stream.consumer", "consumer", n.name)
			}
		}
		cancel()
	}
}

// Release gives the name up, so that a process started next may take it at
// once. Safe to call more than once.
func (n *ConsumerName) Release() {
	n.once.Do(func() {
		close(n.stop)
		<-n.done
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = lease.New(n.rdb, n.key, n.holder, consumerTTL).Release(ctx)
		ownHolders.Delete(n.holder)
	})
}
