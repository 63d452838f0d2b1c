package redisretry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is how long and how often a transient error is tried again.
type Policy struct {
	// Initial is the first pause (default 50 ms); each next one doubles, up
	// to Max (default 2 s), with up to a quarter of jitter.
	Initial, Max time.Duration
	// Within bounds the whole wait (default 30 s: a Sentinel failover with
	// its default timeouts, or a Cluster electing a replica, is over well
	// within it); after it the last error is returned.
	Within time.Duration
	// Sleep waits d or until ctx ends (default: a timer); tests inject their
	// own.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Default is the policy of every loop that does not choose its own.
var Default = Policy{}

func (p Policy) withDefaults() Policy {
	if p.Initial <= 0 {
		p.Initial = 50 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 2 * time.Second
	}
	if p.Within <= 0 {
		p.Within = 30 * time.Second
	}
	if p.Sleep == nil {
		p.Sleep = sleep
	}
	return p
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Do runs fn until it returns nil or an error that is not Transient, or
// until p.Within (counted in pauses) has passed or ctx ends; it returns
// fn's last error (ctx's when ctx ended during a pause).
func (p Policy) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	p = p.withDefaults()
	var waited time.Duration
	pause := p.Initial
	for {
		err := fn(ctx)
		if err == nil || !Transient(err) || waited >= p.Within {
			return err
		}
		d := pause + time.Duration(rand.Int64N(int64(pause)/4+1))
		if serr := p.Sleep(ctx, d); serr != nil {
			return err
		}
		waited += d
		pause = min(pause*2, p.Max)
	}
}

// Do is Default.Do.
func Do(ctx context.Context, fn func(ctx context.Context) error) error { return Default.Do(ctx, fn) }
