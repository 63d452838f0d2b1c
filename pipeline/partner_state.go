package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/sinks/partner"
)

// PartnerReporter keeps this process' PartnerState in Redis for status.
type PartnerReporter struct {
	RDB      redis.UniversalClient
	Keys     layout.Keys
	Instance string
	Sink     *partner.Sink
	// Every is how often the state is looked at (1s); it is written when it
	// changes and at least every inspect.PartnerStateTTL/4.
	Every  time.Duration
	Logger *slog.Logger
}

// Run writes the state until ctx ends, then removes it.
func (r PartnerReporter) Run(ctx context.Context) {
	if r.Every <= 0 {
		r.Every = time.Second
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(r.Every)
	defer t.Stop()
	var last inspect.PartnerState
	var written time.Time
	for {
		now := time.Now()
		st := StateOf(r.Instance, r.Sink.Health(), now)
		cmp := st
		cmp.UpdatedAt = last.UpdatedAt
		if cmp != last || now.Sub(written) >= inspect.PartnerStateTTL/4 {
			if err := WritePartnerState(ctx, r.RDB, r.Keys, st); err != nil && ctx.Err() == nil {
				r.Logger.Warn("partner state for status not written", "err", err)
			} else {
				last, written = st, now
			}
		}
		select {
		case <-ctx.Done():
			c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = r.RDB.HDel(c, r.Keys.Partner, r.Instance).Err()
			cancel()
			return
		case <-t.C:
		}
	}
}

// StateOf turns the sink's Health into a PartnerState.
func StateOf(instance string, h partner.Health, now time.Time) inspect.PartnerState {
	st := inspect.PartnerState{Instance: instance, Breaker: h.Breaker.String(), AuthOK: h.AuthOK, AuthError: h.AuthError,
		ClientID: h.ClientID, TokenURL: h.TokenURL, UpdatedAt: now.UnixMilli()}
	if !h.AuthRefusedSince.IsZero() {
		st.AuthRefusedSince = h.AuthRefusedSince.UnixMilli()
	}
	return st
}

// WritePartnerState stores one process' state.
func WritePartnerState(ctx context.Context, rdb redis.UniversalClient, k layout.Keys, st inspect.PartnerState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	pipe := rdb.TxPipeline()
	pipe.HSet(ctx, k.Partner, st.Instance, b)
	pipe.PExpire(ctx, k.Partner, 2*inspect.PartnerStateTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("partner state: %w", err)
	}
	return nil
}
