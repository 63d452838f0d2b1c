package inspect

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
)

// Status is what `streamsync status` and GET /api/v1/status show.
type Status struct {
	// PartnerName is the partner these counters are of when several are
	// configured (Options.Partner; docs/partners.md, "Several partners").
	PartnerName  string           `json:"partner_name,omitempty"`
	StreamLength int64            `json:"stream_length"`
	Pending      int64            `json:"pending"`
	Lag          int64            `json:"lag"`
	Delayed      int64            `json:"delayed"`
	Retrying     int64            `json:"retrying"`
	Dead         int64            `json:"dead"`
	Attempts     int64            `json:"attempts_backlog"`
	Consumers    int64            `json:"consumers"`
	Steps        map[string]int64 `json:"steps"`
	Prepared     int64            `json:"prepared"` // prepared events neither confirmed nor cancelled yet (docs/producers.md)
	// Partner is what each running process knows of the partner: its
	// circuit breaker and whether the token endpoint accepts the credentials.
	Partner []PartnerState `json:"partner"`
	// Stream is the shard's events stream (in Shards' items).
	Stream string `json:"stream,omitempty"`
	// Owner is the consumer name of the process that reads the shard (its
	// owner lease, docs/scaling.md), "" when none does right now; in the sums,
	// set only with one shard (else see Shards).
	Owner string `json:"owner,omitempty"`
	// Shards are the counters of each shard, in shard order, when there is
	// more than one (docs/scaling.md); the fields above are their sums.
	Shards []Status `json:"shards,omitempty"`
}

// ReadShardsStatus reads the counters of every shard in one pipelined round
// trip (one per Cluster node) and adds them up. With one shard it is
// ReadStatus.
func ReadShardsStatus(ctx context.Context, rdb redis.UniversalClient, shards layout.Shards) (Status, error) {
	if len(shards) == 1 {
		return ReadStatus(ctx, rdb, shards[0])
	}
	pipe := rdb.Pipeline()
	reads := make([]func() Status, len(shards))
	for i, k := range shards {
		reads[i] = queueStatus(ctx, pipe, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && !isNoStream(err) {
		return Status{}, fmt.Errorf("status: %w", err)
	}
	total := Status{Steps: map[string]int64{}}
	for _, read := range reads {
		s := read()
		total.StreamLength += s.StreamLength
		total.Pending += s.Pending
		total.Lag += s.Lag
		total.Delayed += s.Delayed
		total.Retrying += s.Retrying
		total.Dead += s.Dead
		total.Attempts += s.Attempts
		total.Prepared += s.Prepared
		if total.Partner == nil {
			total.Partner = s.Partner // the processes report in the first shard
		}
		total.Consumers = max(total.Consumers, s.Consumers)
		for step, n := range s.Steps {
			total.Steps[step] += n
		}
		total.Shards = append(total.Shards, s)
	}
	return total, nil
}

// ReadStatus reads the counters in one pipelined round trip.
func ReadStatus(ctx context.Context, rdb redis.UniversalClient, k layout.Keys) (Status, error) {
	pipe := rdb.Pipeline()
	read := queueStatus(ctx, pipe, k)
	if _, err := pipe.Exec(ctx); err != nil && !isNoStream(err) {
		return Status{}, fmt.Errorf("status: %w", err)
	}
	s := read()
	s.Stream = ""
	return s, nil
}

// queueStatus queues the reads of one shard's counters on pipe; the
// function returned reads their answers once pipe has run.
func queueStatus(ctx context.Context, pipe redis.Pipeliner, k layout.Keys) func() Status {
	xlen := pipe.XLen(ctx, k.Events)
	groups := pipe.XInfoGroups(ctx, k.Events)
	delayed := pipe.ZCard(ctx, k.Delayed)
	retry := pipe.ZCard(ctx, k.Retry)
	dead := pipe.XLen(ctx, k.Dead)
	attempts := pipe.XLen(ctx, k.Attempts)
	steps := pipe.HGetAll(ctx, k.Steps)
	prepared := pipe.ZCard(ctx, k.PreparedDue)
	partner := pipe.HGetAll(ctx, k.Partner)
	owner := pipe.Get(ctx, k.Owner)
	return func() Status {
		s := Status{Stream: k.Events, Owner: owner.Val(), StreamLength: xlen.Val(), Delayed: delayed.Val(), Retrying: retry.Val(), Dead: dead.Val(), Attempts: attempts.Val(),
			Prepared: prepared.Val(), Steps: map[string]int64{}}
		s.Partner = partnerStates(partner.Val(), time.Now())
		for _, g := range groups.Val() {
			if g.Name == k.Group {
				s.Pending, s.Lag, s.Consumers = g.Pending, g.Lag, g.Consumers
			}
		}
		for step, v := range steps.Val() {
			n, _ := strconv.ParseInt(v, 10, 64)
			s.Steps[step] = n
		}
		return s
	}
}

// isNoStream is the error of XINFO on a stream that does not exist yet.
func isNoStream(err error) bool {
	return err != nil && (errors.Is(err, redis.Nil) || strings.Contains(err.Error(), "no such key"))
}
