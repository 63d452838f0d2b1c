package poll

import (
	"context"
	"errors"
	"fmt"
	"github.com/redis/go-redis/v9"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/streamsync/streamsync/inbound"
	"github.com/streamsync/streamsync/profile"
	"github.com/streamsync/streamsync/source"
)

// pollEntity reads one entity's changes since its cursor, a page at a
// time, up to MaxPages: each page's changes are appended, then the
// listing's progress is written (never before, so a crash reads the page
// again, whose events the ledger skips as duplicates). A listing read to
// its end moves the cursor.
//
// The cursor is the newest updated time the partner reported, less the
// time the listing took (measured on our clock: a duration, which no
// offset between the partner's clock and ours affects). It is not our
// clock's now: the partner stamps its records with its own clock, and a
// partner clock behind ours would make changes stamped before our now
// invisible to the next listing. And the listing's duration comes off
// because a list in key order may show a change made while it was read on
// a page already read, while a later page shows a newer one: every change
// made after the listing began is at or after the newest time seen less
// the listing's duration.
func (p *Poller) pollEntity(ctx context.Context, entity string, lost *atomic.Bool) error {
	key := p.cfg.CursorKey(entity)
	st, err := ReadState(ctx, p.rdb, key)
	if err != nil {
		return err
	}
	defer func() { p.setAge(entity, st) }()
	if !st.Listing {
		since := time.UnixMilli(0) // never polled: every record
		if !st.Cursor.IsZero() {
			since = st.Cursor.Add(-p.cfg.Overlap)
		}
		st = State{Cursor: st.Cursor, CaughtUp: st.CaughtUp, Listing: true, Since: since, Started: p.cfg.Clock.Now()}
	}
	lst, err := p.list(entity, st.Since, st.Position)
	if err != nil {
		if st.Position != "" {
			// A kept position the profile no longer takes (it changed its
			// paging): the listing starts again from its first page.
			p.cfg.Logger.Warn("poll: the listing's kept position is not usable; reading it again from its first page", "partner", p.cfg.Partner, "entity", entity, "err", err)
			return errors.Join(err, p.write(ctx, key, nil, nil, fieldPosition))
		}
		return err
	}
	for range p.cfg.MaxPages {
		if lost.Load() {
			return errLeaseLost
		}
		page, err := lst.Next(ctx)
		if errors.Is(err, io.EOF) {
			return p.finish(ctx, key, &st)
		}
		if err != nil {
			var se *source.StatusError
			if st.Position != "" && errors.As(err, &se) && !se.Transient() && se.Status >= http.StatusBadRequest && se.Status < http.StatusInternalServerError {
				// A cursor or link the partner refuses now (expired): the
				// listing starts again from its first page, with its since.
				p.cfg.Logger.Warn("poll: the partner refuses the listing's next page; reading it again from its first page", "partner", p.cfg.Partner, "entity", entity, "err", err)
				return errors.Join(err, p.write(ctx, key, nil, nil, fieldPosition))
			}
			return err
		}
		if err := p.appendPage(ctx, entity, page); err != nil {
			return err
		}
		for _, c := range page {
			if t := time.UnixMilli(c.Updated); t.After(st.Max) {
				st.Max = t
			}
		}
		st.Position = lst.Position()
		if st.Position == "" {
			return p.finish(ctx, key, &st)
		}
		set := map[string]int64{fieldSince: st.Since.UnixMilli(), fieldStarted: st.Started.UnixMilli()}
		if !st.Max.IsZero() {
			set[fieldMax] = st.Max.UnixMilli()
		}
		if err := p.write(ctx, key, set, map[string]string{fieldPosition: st.Position}); err != nil {
			return err
		}
	}
	p.cfg.Logger.Info("poll: stopped at the page cap; the listing goes on at the next poll", "partner", p.cfg.Partner, "entity", entity, "pages", p.cfg.MaxPages)
	return nil
}

// appendPage appends a page's changes, each with its own Ref, in the
// order the partner listed them — but those already appended: a listing
// starts Overlap before the cursor, and what it reads again there was
// appended by an earlier poll (seenKey keeps their Refs, by updated time,
// until they fall out of the overlap).
func (p *Poller) appendPage(ctx context.Context, entity string, page []profile.Changed) error {
	seen, err := p.seen(ctx, entity, page)
	if err != nil {
		return err
	}
	for i, c := range page {
		if seen[i] {
			continue
		}
		ch := inbound.Change{Entity: entity, Key: c.Key, Account: c.Account, Version: c.Version, Deleted: c.Deleted,
			ParentEntity: c.ParentEntity, ParentKey: c.ParentKey}
		if !c.Deleted {
			ch.Data = c.Data
		}
		ref := Ref(entity, c)
		if err := p.app.Append(ctx, p.cfg.Partner, inbound.ViaPoll, ref, []inbound.Change{ch}); err != nil {
			return fmt.Errorf("append %s/%s: %w", entity, c.Key, err)
		}
		// a crash before this line appends it again next time: a
		// duplicate id, which the ledger skips
		if err := p.rdb.ZAdd(ctx, seenKey(p.cfg.CursorKey(entity)), redis.Z{Score: float64(c.Updated), Member: ref}).Err(); err != nil {
			return fmt.Errorf("poll %s: %w", entity, err)
		}
		p.m.changes.WithLabelValues(p.cfg.Partner, entity).Inc()
	}
	return nil
}

// seenKey is the ZSET of the Refs appended lately (score: updated time,
// unix ms), beside the cursor key (the same hash tag).
func seenKey(cursorKey string) string { return cursorKey + ":seen" }

// seen reports, for each change of page, whether an earlier poll appended it.
func (p *Poller) seen(ctx context.Context, entity string, page []profile.Changed) ([]bool, error) {
	out := make([]bool, len(page))
	if len(page) == 0 {
		return out, nil
	}
	args := []any{"ZMSCORE", seenKey(p.cfg.CursorKey(entity))}
	for _, c := range page {
		args = append(args, Ref(entity, c))
	}
	res, err := p.rdb.Do(ctx, args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("poll %s: %w", entity, err)
	}
	for i, v := range res {
		out[i] = v != nil
	}
	return out, nil
}

// finish ends a listing read to its end: the cursor moves (never back) to
// the newest updated time seen less the listing's duration.
func (p *Poller) finish(ctx context.Context, key string, st *State) error {
	now := p.cfg.Clock.Now()
	if !st.Max.IsZero() {
		if c := st.Max.Add(-max(now.Sub(st.Started), 0)); c.After(st.Cursor) {
			st.Cursor = c
		}
	}
	set := map[string]int64{fieldCaughtUp: st.Started.UnixMilli()}
	if !st.Cursor.IsZero() {
		set[fieldCursor] = st.Cursor.UnixMilli()
	}
	if err := p.write(ctx, key, set, nil, fieldSince, fieldPosition, fieldMax, fieldStarted); err != nil {
		return err
	}
	st.CaughtUp, st.Listing = st.Started, false
	if !st.Cursor.IsZero() {
		// what the next listing cannot read again need not be remembered
		below := st.Cursor.Add(-p.cfg.Overlap).UnixMilli()
		if err := p.rdb.ZRemRangeByScore(ctx, seenKey(key), "-inf", "("+strconv.FormatInt(below, 10)).Err(); err != nil {
			return fmt.Errorf("poll: %w", err)
		}
	}
	return nil
}

func (p *Poller) write(ctx context.Context, key string, set map[string]int64, setText map[string]string, del ...string) error {
	return write(ctx, p.rdb, p.cfg.LeaseKey, key, p.holder, set, setText, del...)
}

// setAge sets the cursor-age gauge from what the entity's state says.
func (p *Poller) setAge(entity string, st State) {
	if st.CaughtUp.IsZero() {
		return
	}
	p.m.age.WithLabelValues(p.cfg.Partner, entity).Set(p.cfg.Clock.Now().Sub(st.CaughtUp).Seconds())
}
