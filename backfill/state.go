package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// state is a run as Redis keeps it, in the hash StateKey(run id):
// "started_at" (unix ms), "entities" and "accounts" (JSON lists), "n" (the
// last event number used), "finished_at" once complete, and per unit
// "pos:<entity>/<account>" → JSON position.
type state struct {
	key        string
	StartedAt  int64
	FinishedAt int64
	Entities   []string
	Accounts   []string
	N          int64
	Pos        map[string]position
}

// position is how far one unit got: the listing cursor of the page in hand
// and how many of that page's records are appended, or done.
type position struct {
	Cursor string `json:"cursor,omitempty"`
	Skip   int    `json:"skip,omitempty"`
	Done   bool   `json:"done,omitempty"`
}

// unit is one listing: an entity, of one account or of all ("").
type unit struct{ Entity, Account string }

func (u unit) name() string { return u.Entity + "/" + u.Account }

func (s *state) units() []unit {
	accounts := s.Accounts
	if len(accounts) == 0 {
		accounts = []string{""}
	}
	var out []unit
	for _, e := range s.Entities {
		for _, a := range accounts {
			out = append(out, unit{e, a})
		}
	}
	return out
}

// loadState reads the run to resume, or starts a new one with the entities
// to read (--entity, the source's, or the ledger's).
func (b *Backfill) loadState(ctx context.Context) (*state, error) {
	key := b.cfg.StateKey(b.runID)
	if b.cfg.Resume != "" {
		return b.readState(ctx, key)
	}
	entities := b.cfg.Entities
	if len(entities) == 0 {
		var err error
		if entities, err = b.src.Entities(ctx); err != nil {
			return nil, fmt.Errorf("backfill: entities of the source: %w", err)
		}
		if entities == nil && b.cfg.LedgerEntities != nil {
			if entities, err = b.cfg.LedgerEntities(ctx); err != nil {
				return nil, fmt.Errorf("backfill: entities of the ledger: %w", err)
			}
		}
		if len(entities) == 0 {
			return nil, errors.New("backfill: no entities to read: name them with --entity or source.entities")
		}
	}
	st := &state{key: key, StartedAt: b.cfg.Now().UnixMilli(), Entities: entities, Accounts: b.cfg.Accounts, Pos: map[string]position{}}
	ents, _ := json.Marshal(st.Entities)
	accs, _ := json.Marshal(st.Accounts)
	ok, err := b.rdb.HSetNX(ctx, key, "started_at", st.StartedAt).Result()
	if err != nil {
		return nil, fmt.Errorf("backfill: save run %s: %w", b.runID, err)
	}
	if !ok {
		return nil, fmt.Errorf("backfill: run %s exists already", b.runID)
	}
	if err := b.rdb.HSet(ctx, key, "entities", ents, "accounts", accs, "n", 0).Err(); err != nil {
		return nil, fmt.Errorf("backfill: save run %s: %w", b.runID, err)
	}
	return st, nil
}

func (b *Backfill) readState(ctx context.Context, key string) (*state, error) {
	h, err := b.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("backfill: read run %s: %w", b.runID, err)
	}
	if len(h) == 0 {
		return nil, fmt.Errorf("backfill: --resume %s: no such run", b.runID)
	}
	st := &state{key: key, Pos: map[string]position{}}
	st.StartedAt, _ = strconv.ParseInt(h["started_at"], 10, 64)
	st.FinishedAt, _ = strconv.ParseInt(h["finished_at"], 10, 64)
	st.N, _ = strconv.ParseInt(h["n"], 10, 64)
	if err := json.Unmarshal([]byte(h["entities"]), &st.Entities); err != nil {
		return nil, fmt.Errorf("backfill: run %s: entities: %w", b.runID, err)
	}
	_ = json.Unmarshal([]byte(h["accounts"]), &st.Accounts)
	for k, v := range h {
		if len(k) > 4 && k[:4] == "pos:" {
			var p position
			if err := json.Unmarshal([]byte(v), &p); err != nil {
				return nil, fmt.Errorf("backfill: run %s: %s: %w", b.runID, k, err)
			}
			st.Pos[k[4:]] = p
		}
	}
	return st, nil
}

// save records a unit's position together with the run's event number.
func (b *Backfill) save(ctx context.Context, st *state, u unit, p position) error {
	st.Pos[u.name()] = p
	v, _ := json.Marshal(p)
	if err := b.rdb.HSet(ctx, st.key, "pos:"+u.name(), v, "n", st.N).Err(); err != nil {
		return fmt.Errorf("backfill %s: save position of %s: %w", b.runID, u.name(), err)
	}
	return nil
}

func (b *Backfill) finish(ctx context.Context, st *state) error {
	if st.FinishedAt == 0 {
		st.FinishedAt = b.cfg.Now().UnixMilli()
	}
	if err := b.rdb.HSet(ctx, st.key, "finished_at", st.FinishedAt).Err(); err != nil {
		return fmt.Errorf("backfill %s: save end: %w", b.runID, err)
	}
	return nil
}
