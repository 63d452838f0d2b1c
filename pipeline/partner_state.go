package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/sinks/partner"
)

// PartnerState is what one running process knows of the partner (contract
// docs/events.md, "partner down"), as `streamsync status` and GET /api/v1/status show it.
type PartnerState struct {
	Instance string `json:"instance"`
	// Breaker is the circuit breaker: closed, half-open or open.
	Breaker string `json:"breaker"`
	// AuthOK is false while the token endpoint refuses the credentials;
	// AuthError is then its answer (status and the start of its body).
	AuthOK           bool   `json:"auth_ok"`
	AuthError        string `json:"auth_error,omitempty"`
	AuthRefusedSince int64  `json:"auth_refused_since_ms,omitempty"` // unix ms
	ClientID         string `json:"client_id,omitempty"`
	TokenURL         string `json:"token_url,omitempty"`
	UpdatedAt        int64  `json:"updated_at_ms"` // unix ms
}

// PartnerStateTTL: an entry not refreshed for this long belongs to a
// process that is gone, and status leaves it out.
const PartnerStateTTL = time.Minute

// PartnerReporter keeps this process' PartnerState in Redis for status.
type PartnerReporter struct {
	RDB      redis.UniversalClient
	Keys     layout.Keys
	Instance string
	Sink     *partner.Sink
	// Every is how often the state is looked at (1s); it is written when it
	// changes and at least every PartnerStateTTL/4.
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
	var last PartnerState
	var written time.Time
	for {
		now := time.Now()
		st := StateOf(r.Instance, r.Sink.Health(), now)
		cmp := st
		cmp.UpdatedAt = last.UpdatedAt
		if cmp != last || now.Sub(written) >= PartnerStateTTL/4 {
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
func StateOf(instance string, h partner.Health, now time.Time) PartnerState {
	st := PartnerState{Instance: instance, Breaker: h.Breaker.String(), AuthOK: h.AuthOK, AuthError: h.AuthError,
		ClientID: h.ClientID, TokenURL: h.TokenURL, UpdatedAt: now.UnixMilli()}
	if !h.AuthRefusedSince.IsZero() {
		st.AuthRefusedSince = h.AuthRefusedSince.UnixMilli()
	}
	return st
}

// WritePartnerState stores one process' state.
func WritePartnerState(ctx context.Context, rdb redis.UniversalClient, k layout.Keys, st PartnerState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	pipe := rdb.TxPipeline()
	pipe.HSet(ctx, k.Partner, st.Instance, b)
	pipe.PExpire(ctx, k.Partner, 2*PartnerStateTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("partner state: %w", err)
	}
	return nil
}

// partnerStates decodes the fresh entries of the Partner hash, by instance.
func partnerStates(m map[string]string, now time.Time) []PartnerState {
	out := []PartnerState{}
	for _, v := range m {
		var st PartnerState
		if json.Unmarshal([]byte(v), &st) != nil || now.Sub(time.UnixMilli(st.UpdatedAt)) > PartnerStateTTL {
			continue
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b PartnerState) int { return strings.Compare(a.Instance, b.Instance) })
	return out
}
