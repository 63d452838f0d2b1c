package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Status is what `streamsync status` and GET /api/v1/status show.
type Status struct {
	StreamLength int64            `json:"stream_length"`
	Pending      int64            `json:"pending"`
	Lag          int64            `json:"lag"`
	Delayed      int64            `json:"delayed"`
	Retrying     int64            `json:"retrying"`
	Dead         int64            `json:"dead"`
	Attempts     int64            `json:"attempts_backlog"`
	Consumers    int64            `json:"consumers"`
	Prepared     int64            `json:"prepared"` // prepared events neither confirmed nor cancelled yet (§8)
	Steps        map[string]int64 `json:"steps"`
	// Partner is what each running process knows of the partner: its
	// circuit breaker and whether the token endpoint accepts the credentials.
	Partner []PartnerState `json:"partner"`
}

// ReadStatus reads the counters in one pipelined round trip.
func ReadStatus(ctx context.Context, rdb redis.UniversalClient, k Keys) (Status, error) {
	pipe := rdb.Pipeline()
	xlen := pipe.XLen(ctx, k.Events)
	groups := pipe.XInfoGroups(ctx, k.Events)
	delayed := pipe.ZCard(ctx, k.Delayed)
	retry := pipe.ZCard(ctx, k.Retry)
	dead := pipe.XLen(ctx, k.Dead)
	attempts := pipe.XLen(ctx, k.Attempts)
	steps := pipe.HGetAll(ctx, k.Steps)
	prepared := pipe.ZCard(ctx, k.PreparedDue)
	partner := pipe.HGetAll(ctx, k.Partner)
	if _, err := pipe.Exec(ctx); err != nil && !isNoStream(err) {
		return Status{}, fmt.Errorf("status: %w", err)
	}
	s := Status{StreamLength: xlen.Val(), Delayed: delayed.Val(), Retrying: retry.Val(), Dead: dead.Val(), Attempts: attempts.Val(), Prepared: prepared.Val(), Steps: map[string]int64{}}
	for _, g := range groups.Val() {
		if g.Name == k.Group {
			s.Pending, s.Lag, s.Consumers = g.Pending, g.Lag, g.Consumers
		}
	}
	for step, v := range steps.Val() {
		n, _ := strconv.ParseInt(v, 10, 64)
		s.Steps[step] = n
	}
	s.Partner = partnerStates(partner.Val(), time.Now())
	return s, nil
}

// isNoStream is the error of XINFO on a stream that does not exist yet.
func isNoStream(err error) bool {
	return err != nil && (errors.Is(err, redis.Nil) || strings.Contains(err.Error(), "no such key"))
}
