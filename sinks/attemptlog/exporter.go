package attemptlog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/redisretry"
	"github.com/streamsync/streamsync/internal/streams"
)

// Defaults of ExporterConfig.
const (
	DefaultGroup         = "attemptlog"
	DefaultBatchSize     = 10000
	DefaultFlushInterval = time.Second
	DefaultRetryEvery    = time.Second
	DefaultClaimMinIdle  = time.Minute
	// DefaultForgetIdle is how long an exporter's consumer that owns no
	// pending row stays in the group after its last read.
	DefaultForgetIdle = time.Hour
)

// ExporterConfig configures the Exporter.
type ExporterConfig struct {
	Stream string // the attempts stream the pipeline appends rows to
	// Partner is the partner whose pipeline appends to Stream: the partner
	// column of every row exported, from Redis or from the spool
	// ([a-z0-9_-]{1,64}; DefaultPartner when empty).
	Partner string
	// Direction is DirectionOut (the default) or DirectionIn: the stream
	// is a two-way partner's inbound pipeline's.
	Direction string
	// OldRowsPartner is the partner an attempts table's rows from before
	// the partner column read as (SchemaOptions; DefaultPartner when empty).
	OldRowsPartner string
	// Cluster is clickhouse.cluster (SchemaOptions): the schema made is the
	// sharded one, and rows are written through the Distributed attempts.
	Cluster Cluster
	// RowIDPrefix is put in front of every row_id read from Stream: the
	// shard's number ("3/") when there are several shards, and the
	// partner's name ("erp:") for a partner other than the default, whose
	// stream entry ids (part of a row_id) may coincide (docs/operations.md:
	// row_id is unique per step). Empty with one shard and one partner.
	RowIDPrefix string
	Group       string // consumer group shared by every process' exporter
	Consumer    string
	Database    string
	// BatchSize rows or FlushInterval, whichever comes first, make one insert.
	BatchSize     int
	FlushInterval time.Duration
	// BacklogMax rows may wait in Redis while ClickHouse is away; older ones
	// move to the spool in SpoolDir.
	BacklogMax int
	SpoolDir   string
	// RetryEvery is how often an absent ClickHouse is tried again.
	RetryEvery time.Duration
	// ClaimMinIdle: rows another exporter left pending this long are taken over.
	ClaimMinIdle time.Duration
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
}

func (c *ExporterConfig) setDefaults() {
	if c.Partner == "" {
		c.Partner = DefaultPartner
	}
	if c.OldRowsPartner == "" {
		c.OldRowsPartner = DefaultPartner
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.BacklogMax <= 0 {
		c.BacklogMax = 1_000_000
	}
	if c.RetryEvery <= 0 {
		c.RetryEvery = DefaultRetryEvery
	}
	if c.ClaimMinIdle <= 0 {
		c.ClaimMinIdle = DefaultClaimMinIdle
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a missing setting.
func (c ExporterConfig) Validate() error {
	switch {
	case c.Stream == "" || c.Consumer == "":
		return errors.New("attempt log exporter: stream and consumer required")
	case c.Database == "":
		return errors.New("attempt log exporter: database required")
	case c.SpoolDir == "":
		return errors.New("attempt log exporter: spool dir required")
	}
	if err := CheckPartner(c.Partner); err != nil {
		return fmt.Errorf("attempt log exporter: %w", err)
	}
	if err := CheckPartner(c.OldRowsPartner); err != nil {
		return fmt.Errorf("attempt log exporter: old rows: %w", err)
	}
	return nil
}

// Exporter moves attempt-log rows from the attempts stream in Redis into
// ClickHouse in batches. A row is acked and deleted from Redis only after
// its insert succeeded (or it is safe in the spool). Delivery never waits on
// it: the pipeline only appends to the stream.
type Exporter struct {
	cfg   ExporterConfig
	rdb   redis.UniversalClient
	conn  driver.Conn
	spool *spool
	m     *metrics
	log   *slog.Logger

	schemaReady bool
	down        bool
	retryAt     time.Time
	own         bool   // still reading this consumer's own pending rows
	after       string // position within them
	lastClaim   time.Time
	claims      streams.ClaimCursor // where the next claim pass starts (docs/reliability.md, "Claiming")
}

// NewExporter builds an Exporter; it does not close rdb or conn.
func NewExporter(cfg ExporterConfig, rdb redis.UniversalClient, conn driver.Conn) (*Exporter, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sp, err := newSpool(cfg.SpoolDir)
	if err != nil {
		return nil, err
	}
	return &Exporter{cfg: cfg, rdb: rdb, conn: conn, spool: sp, m: newMetrics(cfg.Registerer), log: cfg.Logger, own: true, after: "0"}, nil
}

type held struct {
	rows []Row
	ids  []string
	from time.Time
}

// Run exports until ctx ends. Rows read and not yet exported stay pending in
// Redis, and are read again first on the next run.
func (x *Exporter) Run(ctx context.Context) error {
	if err := x.rdb.XGroupCreateMkStream(ctx, x.cfg.Stream, x.cfg.Group, "0").Err(); err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("attempt log: group on %s: %w", x.cfg.Stream, err)
	}
	var h held
	for ctx.Err() == nil {
		if x.down && time.Now().Before(x.retryAt) {
			if !x.spill(ctx, &h) {
				sleep(ctx, min(100*time.Millisecond, time.Until(x.retryAt)))
			}
			continue
		}
		if x.down || !x.schemaReady {
			x.probe(ctx)
			continue
		}
		if x.replaySpool(ctx) {
			continue
		}
		if len(h.rows) < x.cfg.BatchSize {
			block := x.cfg.FlushInterval
			if len(h.rows) > 0 {
				block = max(time.Millisecond, time.Until(h.from.Add(x.cfg.FlushInterval)))
			}
			x.read(ctx, &h, x.cfg.BatchSize-len(h.rows), block)
		}
		if len(h.rows) > 0 && (len(h.rows) >= x.cfg.BatchSize || time.Since(h.from) >= x.cfg.FlushInterval) {
			if err := x.insert(ctx, h.rows); err != nil {
				x.wentAway(ctx, err)
				continue
			}
			x.m.exported.Add(float64(len(h.rows)))
			x.ackDelete(ctx, h.ids)
			h = held{}
		}
	}
	return nil
}

// probe checks that ClickHouse answers and the schema is there.
func (x *Exporter) probe(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := x.conn.Ping(pctx)
	if err == nil && !x.schemaReady {
		// Not bounded by the probe's 10 s: filling a new derived table from
		// a large older attempts table (an hour a statement), or growing
		// into a cluster, takes longer, and cut off it would start over at
		// every probe. Rows wait in Redis meanwhile.
		if err = EnsureSchemaWith(ctx, x.conn, x.cfg.Database, SchemaOptions{OldRowsPartner: x.cfg.OldRowsPartner, Cluster: x.cfg.Cluster}); err == nil {
			x.schemaReady = true
		}
	}
	if err != nil {
		x.wentAway(ctx, err)
		return
	}
	if x.down {
		x.log.Info("clickhouse is back; exporting the attempt log again")
	}
	x.down = false
}

func (x *Exporter) wentAway(ctx context.Context, err error) {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return // a stop, not an outage: nothing to warn about
	}
	if !x.down {
		x.log.Warn("clickhouse unreachable; attempt-log rows wait in Redis (then in the spool)", "err", err,
			"backlog_max", x.cfg.BacklogMax, "spool_dir", x.cfg.SpoolDir)
	}
	x.down, x.retryAt = true, time.Now().Add(x.cfg.RetryEvery)
}

// read takes up to n rows: this consumer's own pending ones first (left by
// a crash), rows other exporters left idle, then new ones.
func (x *Exporter) read(ctx context.Context, h *held, n int, block time.Duration) {
	var msgs []redis.XMessage
	var err error
	switch {
	case x.own:
		msgs, err = x.readGroup(ctx, x.after, n, -1)
		if err == nil && len(msgs) == 0 {
			x.own = false
		} else if len(msgs) > 0 {
			x.after = msgs[len(msgs)-1].ID
		}
	case time.Since(x.lastClaim) > x.cfg.ClaimMinIdle/2:
		x.lastClaim = time.Now()
		var gone []string
		var next string
		msgs, next, gone, err = streams.AutoClaim(ctx, x.rdb, x.cfg.Stream, x.cfg.Group, x.cfg.Consumer, x.cfg.ClaimMinIdle, x.claims.Start(), n)
		if err == nil {
			x.claims.Advance(next)
			x.forgetConsumers(ctx)
		}
		if len(gone) > 0 {
			// Deleted from the attempts stream while pending (an XTRIM or
			// XDEL by hand): Redis dropped them from the pending list.
			x.log.Error("ATTEMPT-LOG ROWS DROPPED: deleted from the attempts stream before they were exported", "stream", x.cfg.Stream, "count", len(gone), "stream_ids", gone[:min(len(gone), 20)])
			x.m.dropped.Add(float64(len(gone)))
		}
	default:
		msgs, err = x.readGroup(ctx, ">", n, block)
	}
	if err != nil && ctx.Err() == nil && streams.RecreateGroup(ctx, x.rdb, x.cfg.Stream, x.cfg.Group, err) {
		// The attempts stream or its group vanished (DEL, FLUSHALL,
		// eviction): made again; rows appended from now on are exported.
		x.log.Warn("the attempts stream or its consumer group was gone; created again", "stream", x.cfg.Stream, "group", x.cfg.Group)
		x.own, x.after = false, "0"
		x.claims.Reset()
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			level := slog.LevelError
			if redisretry.Transient(err) {
				level = slog.LevelWarn // a failover or a reshard under way: it passes
			}
			x.log.Log(ctx, level, "reading attempt-log rows failed; reading again in a second", "err", err)
			sleep(ctx, time.Second)
		}
		return
	}
	var bad []string
	for _, m := range msgs {
		r := make(Row, len(m.Values))
		for k, v := range m.Values {
			if s, ok := v.(string); ok {
				r[k] = s
			}
		}
		if x.cfg.RowIDPrefix != "" && r["row_id"] != "" {
			r["row_id"] = x.cfg.RowIDPrefix + r["row_id"]
		}
		r[PartnerColumn] = x.cfg.Partner // kept through the spool
		r[DirectionColumn] = cmp.Or(x.cfg.Direction, DirectionOut)
		if _, err := r.values(); err != nil || len(m.Values) == 0 {
			x.log.Error("ATTEMPT-LOG ROW DROPPED: not a row", "stream_id", m.ID, "err", err)
			x.m.dropped.Inc()
			bad = append(bad, m.ID)
			continue
		}
		if len(h.rows) == 0 {
			h.from = time.Now()
		}
		h.rows = append(h.rows, r)
		h.ids = append(h.ids, m.ID)
	}
	if len(bad) > 0 {
		x.ackDelete(ctx, bad)
	}
}

// forgetConsumers deletes the exporters' consumers of processes gone for
// DefaultForgetIdle that own no pending row (docs/reliability.md,
// "Consumers"); one that owns some stays until its rows are claimed.
func (x *Exporter) forgetConsumers(ctx context.Context) {
	gone, err := streams.ForgetConsumers(ctx, x.rdb, x.cfg.Stream, DefaultForgetIdle, x.cfg.Consumer)
	if err != nil && ctx.Err() == nil {
		x.log.Warn("deleting idle exporter consumers failed", "stream", x.cfg.Stream, "err", err)
	}
	for _, f := range gone {
		x.log.Info("idle consumer with nothing pending deleted", "stream", x.cfg.Stream, "group", f.Group, "consumer", f.Consumer, "idle", f.Idle.Round(time.Second))
	}
}

func (x *Exporter) readGroup(ctx context.Context, id string, n int, block time.Duration) ([]redis.XMessage, error) {
	return streams.ReadGroup(ctx, x.rdb, x.cfg.Stream, x.cfg.Group, x.cfg.Consumer, id, n, block)
}

// insert writes rows in one batch.
func (x *Exporter) insert(ctx context.Context, rows []Row) error {
	start := time.Now()
	if err := Insert(ctx, x.conn, x.cfg.Database, rows); err != nil {
		return err
	}
	x.m.insertSeconds.Observe(time.Since(start).Seconds())
	return nil
}

// Insert writes rows into database.attempts in one batch, with the explicit
// column list 18.16 needs. Rows that are not rows are left out.
func Insert(ctx context.Context, conn driver.Conn, database string, rows []Row) error {
	ictx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	batch, err := conn.PrepareBatch(ictx, fmt.Sprintf("INSERT INTO `%s`.`%s` (%s)", database, Table, columnList()))
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	for _, r := range rows {
		v, err := r.values()
		if err != nil {
			continue // checked when read
		}
		if err := batch.Append(v...); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("append row %s: %w", r["row_id"], err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert %d rows: %w", len(rows), err)
	}
	return nil
}

// ackDelete acks rows and deletes them from the stream, so that it holds
// only rows not yet exported.
func (x *Exporter) ackDelete(ctx context.Context, ids []string) {
	for len(ids) > 0 {
		n := min(len(ids), 5000)
		pipe := x.rdb.Pipeline()
		pipe.XAck(ctx, x.cfg.Stream, x.cfg.Group, ids[:n]...)
		pipe.XDel(ctx, x.cfg.Stream, ids[:n]...)
		if _, err := pipe.Exec(ctx); err != nil {
			x.log.Error("ack of exported rows failed; they will be exported again and collapse on row_id", "err", err)
		}
		ids = ids[n:]
	}
}

// spill moves the oldest rows to the spool while ClickHouse is away and
// Redis holds more than BacklogMax. It reports whether it moved any.
func (x *Exporter) spill(ctx context.Context, h *held) bool {
	backlog, err := x.rdb.XLen(ctx, x.cfg.Stream).Result()
	if err != nil {
		return false
	}
	x.m.backlog.Set(float64(backlog))
	if backlog <= int64(x.cfg.BacklogMax) {
		return false
	}
	if len(h.rows) == 0 {
		x.read(ctx, h, int(min(int64(x.cfg.BatchSize), backlog-int64(x.cfg.BacklogMax))), -1)
		if len(h.rows) == 0 {
			return false
		}
	}
	if err := x.spool.write(h.rows); err != nil {
		x.log.Error("SPOOL WRITE FAILED: attempt-log rows stay in Redis past clickhouse.backlog_max", "err", err, "rows", len(h.rows))
		return false
	}
	x.m.spooled.Add(float64(len(h.rows)))
	x.ackDelete(ctx, h.ids)
	*h = held{}
	return true
}

// replaySpool inserts the oldest spool segment; it reports whether there was one.
func (x *Exporter) replaySpool(ctx context.Context) bool {
	segs, err := x.spool.segments()
	if err != nil || len(segs) == 0 {
		return false
	}
	rows, bad, err := x.spool.read(segs[0])
	if err != nil {
		x.log.Error("spool segment unreadable; kept for a later try", "segment", segs[0], "err", err)
		return false
	}
	if bad > 0 {
		x.log.Error("ATTEMPT-LOG ROWS DROPPED: spool lines that are not rows", "segment", segs[0], "count", bad)
		x.m.dropped.Add(float64(bad))
	}
	for _, r := range rows {
		if r[PartnerColumn] == "" { // spooled by a streamsync from before partners: this spool's partner's
			r[PartnerColumn] = x.cfg.Partner
		}
	}
	for i := 0; i < len(rows); i += x.cfg.BatchSize {
		if err := x.insert(ctx, rows[i:min(i+x.cfg.BatchSize, len(rows))]); err != nil {
			x.wentAway(ctx, err)
			return true // the whole segment again later: duplicates collapse on row_id
		}
	}
	x.m.replayed.Add(float64(len(rows)))
	if err := x.spool.remove(segs[0]); err != nil {
		x.log.Error("spool segment exported but not removed", "segment", segs[0], "err", err)
	}
	return true
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
