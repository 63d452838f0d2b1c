package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Defaults of Config.
const (
	DefaultBatchSize   = 20000
	DefaultFirstDiffs  = 20
	DefaultConcurrency = 8
)

// Config is what one kind of run does; a Reconciler runs it as often as asked.
type Config struct {
	Database string // clickhouse.database
	// Against is AgainstSource or AgainstLedger; empty means the source when
	// there is one, else the ledger.
	Against  string
	Entities []string // --entity; empty: source.entities, the file's or the ledger's
	Accounts []string // --account; empty: every account
	// Repair appends repair events (needs a source); RepairExtra also deletes
	// extra records.
	Repair, RepairExtra bool
	// Recent, when > 0, checks only records delivered in that past window
	// (attempt log), by point reads.
	Recent time.Duration
	// BatchSize is the rows per insert into reconcile_items.
	BatchSize int
	// FirstDiffs is how many differences a report lists.
	FirstDiffs int
	// Concurrency is the point reads in flight for Recent.
	Concurrency int
	// KeepItems keeps the run's rows in reconcile_items (they are dropped
	// when the run ends, by default).
	KeepItems bool
	// Hash is what both sides' records are compared by (default
	// ContentHash); a partner read through a profile is compared by the
	// profile's Hash, on both sides (docs/partners.md, "Reads").
	Hash HashFunc
	// NoVersions says the partner keeps no versions (a profile's versions:
	// none): a content difference is differs, never behind or ahead, and
	// its repair re-sends our record at our version.
	NoVersions bool
	// noContent: content is not compared, only presence, deletion and
	// versions — a run against the ledger (which keeps a hash of the whole
	// record) with a profile's Hash (which hashes its compared fields).
	noContent bool
	Now       func() time.Time
	Logger    *slog.Logger
}

func (c *Config) setDefaults(hasSource bool) {
	if c.Against == "" {
		c.Against = AgainstLedger
		if hasSource {
			c.Against = AgainstSource
		}
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.FirstDiffs <= 0 {
		c.FirstDiffs = DefaultFirstDiffs
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Hash == nil {
		c.Hash = ContentHash
	} else if c.Against == AgainstLedger {
		c.noContent = true
		c.Hash = noHash // nothing is compared by it: not worth computing
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a combination a run cannot do, naming the flag or setting.
func (c Config) Validate(d Deps) error {
	switch {
	case c.Database == "":
		return errors.New("clickhouse.database: required")
	case c.Against != AgainstSource && c.Against != AgainstLedger:
		return fmt.Errorf("--against: must be source or ledger, is %q", c.Against)
	case c.Against == AgainstSource && d.Ours == nil:
		return errors.New("--against source: source.kind is none (set source.kind to http or file, or compare --against ledger)")
	case c.Repair && d.Ours == nil:
		return errors.New("--repair: needs a source (source.kind http or file): a repair sends our record")
	case c.Repair && c.Against == AgainstLedger:
		return errors.New("--repair: not against the ledger, which keeps no data; repair sends our records from the source (--against source)")
	case c.RepairExtra && !c.Repair:
		return errors.New("--repair-extra: only with --repair")
	case c.Repair && d.Append == nil:
		return errors.New("--repair: no way to append events")
	case c.Recent < 0:
		return errors.New("--recent: must be a positive duration")
	}
	return nil
}

// Deps are the parts a run reads and writes.
type Deps struct {
	CH     driver.Conn
	Ours   Reader      // our source; nil when source.kind is none
	Ledger RedisLedger // what streamsync last delivered
	Theirs Reader      // the partner's read endpoints
	Append AppendFunc  // the events stream; for repairs
}

// ErrNoEntities is a run that had no entity to compare: it fails (exit 2)
// rather than report equal, since nothing was compared.
var ErrNoEntities = errors.New("no entity to compare")

// Reconciler runs reconciliations.
type Reconciler struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	// runID, when set (a run started by a Starter), is the next run's id.
	runID string
}

// New builds a Reconciler.
func New(cfg Config, deps Deps) (*Reconciler, error) {
	cfg.setDefaults(deps.Ours != nil)
	if err := cfg.Validate(deps); err != nil {
		return nil, err
	}
	if deps.CH == nil || deps.Theirs == nil || deps.Ledger.RDB == nil {
		return nil, errors.New("reconcile: ClickHouse, the partner and the ledger are required")
	}
	return &Reconciler{cfg: cfg, deps: deps, log: cfg.Logger}, nil
}

// NewRunID is a run id: UTC time and 4 random bytes, e.g.
// 20261130T120102-1a2b3c4d (24 bytes, so rc-<run_id>-<n> stays far below 128).
func NewRunID(now time.Time) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}

// Run does one reconciliation and records it in reconcile_runs. The
// report's Status says how it went; err is set when it could not be done
// (Status failed).
func (r *Reconciler) Run(ctx context.Context) (Report, error) {
	cfg := r.cfg
	id := r.runID
	if id == "" {
		id = NewRunID(cfg.Now())
	}
	rep := Report{RunID: id, Against: cfg.Against, Started: cfg.Now(), Accounts: cfg.Accounts, Notes: []string{},
		Database: cfg.Database}
	if rep.Accounts == nil {
		rep.Accounts = []string{}
	}
	if cfg.Recent > 0 {
		rep.Recent = cfg.Recent.String()
	}
	err := r.run(ctx, &rep)
	rep.Finished = cfg.Now()
	switch {
	case err != nil:
		rep.Status, rep.Error = StatusFailed, err.Error()
	case rep.Found() > 0:
		rep.Status = StatusDifferences
	default:
		rep.Status = StatusEqual
	}
	if !cfg.KeepItems {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		for _, part := range []string{rep.RunID, recheckRun(rep.RunID)} {
			if derr := r.deps.CH.Exec(dctx, fmt.Sprintf("ALTER TABLE `%s`.`%s` DROP PARTITION ?", cfg.Database, ItemsTable), part); derr != nil && err == nil {
				r.log.Warn("reconcile: could not drop the run's items", "run_id", rep.RunID, "partition", part, "err", derr)
			}
		}
		cancel()
	}
	if werr := r.record(context.WithoutCancel(ctx), rep); werr != nil {
		r.log.Error("reconcile: could not record the run", "run_id", rep.RunID, "err", werr)
		if err == nil {
			err = werr
			rep.Status, rep.Error = StatusFailed, werr.Error()
		}
	}
	r.log.Info("reconciliation", "run_id", rep.RunID, "against", rep.Against, "status", rep.Status, "ours", rep.Ours, "theirs", rep.Theirs,
		"equal", rep.Equal, "missing", rep.Missing, "extra", rep.Extra, "behind", rep.Behind, "ahead", rep.Ahead, "differs", rep.Differs,
		"repaired", rep.Repaired, "err", rep.Error)
	return rep, err
}

func (r *Reconciler) run(ctx context.Context, rep *Report) error {
	cfg := r.cfg
	if err := EnsureSchema(ctx, r.deps.CH, cfg.Database); err != nil {
		return err
	}
	// filter: the ledger holds every account's records; a run over some
	// accounts keeps theirs when the records are compared.
	var filter []string
	if cfg.Against == AgainstLedger {
		rep.Notes = append(rep.Notes, "ours is the ledger: what streamsync last delivered, not our records themselves (set source.kind to compare with them)")
		if cfg.noContent {
			rep.Notes = append(rep.Notes, "content is not compared against the ledger through a profile (the ledger keeps a hash of the whole record, the profile compares its compared fields): presence, deletion and versions are; compare --against source for content")
		}
		if cfg.Recent == 0 {
			filter = cfg.Accounts
		}
	}
	var entities []string
	var noAccount int64
	lookup := map[string]bool{} // entities with ledger entries that keep no account
	if cfg.Recent > 0 {
		var err error
		if entities, err = r.recent(ctx, rep.RunID); err != nil {
			return err
		}
	} else {
		var err error
		if entities, err = r.entities(ctx); err != nil {
			return err
		}
		if len(cfg.Entities) == 0 {
			var unread []string
			entities, unread = r.readable(entities)
			if len(unread) > 0 {
				rep.Notes = append(rep.Notes, fmt.Sprintf("not compared: %s — the partner's profile has no read for them (docs/partners.md, \"Reads\")", strings.Join(unread, ", ")))
			}
		}
		for _, e := range entities {
			n, err := r.load(ctx, rep.RunID, e)
			if err != nil {
				return err
			}
			noAccount += n
			lookup[e] = n > 0
		}
	}
	if noAccount > 0 {
		rep.Notes = append(rep.Notes, noAccountNote(noAccount, len(filter) > 0))
	}
	rep.Entities = entities
	if len(entities) == 0 {
		// Nothing compared is not "equal": the partner may hold records we
		// never looked at.
		if cfg.Recent > 0 {
			return fmt.Errorf("%w: no record was delivered in the past %s (attempt log); give --entity E, or a longer --recent", ErrNoEntities, cfg.Recent)
		}
		return fmt.Errorf("%w: give --entity E (repeatable) or set source.entities; the ledger has seen no entity yet", ErrNoEntities)
	}
	var total counts
	for _, e := range entities {
		start := time.Now()
		if cfg.Recent > 0 {
			// Point reads already: nothing to re-check.
			if err := classify(ctx, r.deps.CH, cfg.Database, rep.RunID, rep.RunID, e, rep.Started, filter, lookup[e], cfg.NoVersions); err != nil {
				return err
			}
		} else {
			n, err := r.recheck(ctx, rep.RunID, e, rep.Started, filter, lookup[e])
			rep.Rechecked += n
			if err != nil {
				return err
			}
		}
		c, err := count(ctx, r.deps.CH, cfg.Database, rep.RunID, e)
		if err != nil {
			return err
		}
		if len(filter) > 0 {
			if c.Ours, err = countOurs(ctx, r.deps.CH, cfg.Database, rep.RunID, e, filter, lookup[e]); err != nil {
				return err
			}
		}
		r.log.Info("reconcile: entity classified", "run_id", rep.RunID, "entity", e, "took", time.Since(start).Round(time.Millisecond))
		total.add(c)
	}
	rep.set(total)
	rep.Cleared = max(0, rep.Rechecked-rep.Found())
	if cfg.Repair {
		rp := &repairer{conn: r.deps.CH, db: cfg.Database, runID: rep.RunID, itemsRun: rep.RunID, append: r.deps.Append,
			nowMS: cfg.Now().UnixMilli(), noVersions: cfg.NoVersions}
		if cfg.Recent == 0 {
			rp.itemsRun = recheckRun(rep.RunID) // repairs send what the re-check read
		}
		ordered, err := parentsFirst(ctx, r.deps.CH, cfg.Database, rp.itemsRun, entities)
		if err != nil {
			return err
		}
		for _, e := range ordered {
			err := rp.repairEntity(ctx, e, cfg.RepairExtra)
			rep.Repaired = rp.n - int64(len(rp.batch))
			if err != nil {
				return err
			}
		}
		if n := rp.note(); n != "" {
			rep.Notes = append(rep.Notes, n)
		}
		if rep.Extra > 0 && !cfg.RepairExtra {
			rep.Notes = append(rep.Notes, "extra records are left alone; --repair-extra deletes them at the partner")
		}
	}
	if rep.Ahead > 0 {
		rep.Notes = append(rep.Notes, "ahead records (the partner's version is higher) are reported, never repaired: look at them by hand")
	}
	diffs, err := firstDiffs(ctx, r.deps.CH, cfg.Database, rep.RunID, cfg.FirstDiffs)
	if err != nil {
		return err
	}
	rep.Differences = diffs
	return nil
}

// entities are --entity, else the source's (source.entities, the file's),
// else the ledger's.
// readable splits entities into those the partner can be read for and
// those it cannot: a partner read through a profile that has no read for an
// entity (a child listed only under its parent, say). Without such a
// partner every entity is readable.
// noHash is the HashFunc of a run that compares no content.
func noHash(string, json.RawMessage) string { return "" }

func (r *Reconciler) readable(entities []string) (yes, no []string) {
	rd, ok := r.deps.Theirs.(interface{ Reads(entity string) bool })
	if !ok {
		return entities, nil
	}
	for _, e := range entities {
		if rd.Reads(e) {
			yes = append(yes, e)
		} else {
			no = append(no, e)
		}
	}
	return yes, no
}

func (r *Reconciler) entities(ctx context.Context) ([]string, error) {
	if len(r.cfg.Entities) > 0 {
		return r.cfg.Entities, nil
	}
	if r.cfg.Against == AgainstSource {
		if es, ok := r.deps.Ours.(interface {
			Entities(context.Context) ([]string, error)
		}); ok {
			list, err := es.Entities(ctx)
			if err != nil {
				return nil, err
			}
			if list != nil {
				return list, nil
			}
		}
	}
	return r.deps.Ledger.Entities(ctx)
}

// noAccountNote tells how records of ledger entries that keep no account
// were attributed.
func noAccountNote(n int64, filtered bool) string {
	s := fmt.Sprintf("%d ledger entries were written before the ledger kept accounts: their account is taken from the attempt log, else from the partner's record", n)
	if filtered {
		return s + "; one that neither knows is left out of --account"
	}
	return s + "; a difference that neither knows shows account \"\""
}

// load streams both sides of one entity into reconcile_items, at once, and
// looks up in the attempt log the accounts of ledger entries that keep none
// (noAccount of them).
func (r *Reconciler) load(ctx context.Context, runID, entity string) (noAccount int64, _ error) {
	cfg := r.cfg
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ours := &itemWriter{conn: r.deps.CH, db: cfg.Database, runID: runID, side: SideOurs, batchSize: cfg.BatchSize, noHash: cfg.noContent}
	theirs := &itemWriter{conn: r.deps.CH, db: cfg.Database, runID: runID, side: SideTheirs, batchSize: cfg.BatchSize, noHash: cfg.noContent}
	errc := make(chan error, 1)
	go func() {
		var err error
		if cfg.Against == AgainstLedger {
			noAccount, err = streamLedger(ctx, r.deps.Ledger, ours, entity, cfg.Accounts)
		} else {
			err = streamList(ctx, r.deps.Ours, ours, entity, cfg.Accounts, cfg.Repair, cfg.Hash)
		}
		if err != nil {
			ours.abort()
			cancel()
			err = fmt.Errorf("our side (%s) of %s: %w", cfg.Against, entity, err)
		}
		errc <- err
	}()
	terr := streamList(ctx, r.deps.Theirs, theirs, entity, cfg.Accounts, false, cfg.Hash)
	if terr != nil {
		theirs.abort()
		cancel()
		terr = fmt.Errorf("the partner's side of %s: %w", entity, terr)
	}
	oerr := <-errc
	switch {
	case terr != nil && (oerr == nil || errors.Is(oerr, context.Canceled)):
		return 0, terr // the partner failed first; ours was stopped
	case oerr != nil:
		return 0, oerr
	case terr != nil:
		return 0, terr
	}
	if noAccount > 0 {
		if err := fillAccounts(ctx, r.deps.CH, cfg.Database, runID, entity); err != nil {
			return 0, err
		}
	}
	r.log.Info("reconcile: sides read", "run_id", runID, "entity", entity, "ours", ours.total, "theirs", theirs.total, "took", time.Since(start).Round(time.Millisecond))
	return noAccount, nil
}

// record writes the run's row to reconcile_runs.
func (r *Reconciler) record(ctx context.Context, rep Report) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	b, err := r.deps.CH.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO `%s`.`%s` (%s)", r.cfg.Database, RunsTable, cols(runColumns)))
	if err != nil {
		return fmt.Errorf("reconcile_runs: %w", err)
	}
	u := func(n int64) uint64 { return uint64(max(0, n)) }
	if err := b.Append(rep.RunID, rep.Started, rep.Finished, rep.Against, u(rep.Ours), u(rep.Theirs), u(rep.Equal), u(rep.Missing),
		u(rep.Extra), u(rep.Behind), u(rep.Ahead), u(rep.Differs), u(rep.Repaired), rep.Status, rep.Error,
		strings.Join(rep.Entities, ","), strings.Join(rep.Accounts, ",")); err != nil {
		_ = b.Abort()
		return fmt.Errorf("reconcile_runs: %w", err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("reconcile_runs: %w", err)
	}
	return nil
}
