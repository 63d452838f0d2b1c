package inspect

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/proof"
)

// DeadLetter is one entry of the dead-letter stream.
type DeadLetter struct {
	DeadID   string            `json:"dead_id"` // the entry's id in the dead-letter stream
	EventID  string            `json:"id"`
	Account  string            `json:"account"`
	Reason   string            `json:"dead_reason"`
	Error    string            `json:"dead_error"`
	Attempts int               `json:"dead_attempts"`
	At       int64             `json:"dead_at"`
	Fields   map[string]string `json:"fields"`
	// Shard is the shard whose dead-letter stream holds the entry.
	Shard int `json:"shard"`
	// Partner is the partner whose dead letter it is, when several are
	// configured (DeadOps.Partner).
	Partner string `json:"partner,omitempty"`
}

// DeadFilter picks dead letters: by event id (or dead-letter entry id), by
// reason, by account, or all of them.
type DeadFilter struct {
	IDs     []string
	Reason  string
	Account string
	// Partner names the partner whose dead letters are meant (its own
	// dead-letter stream, docs/partners.md), [a-z0-9_-]{1,64}; empty: every
	// partner's. The admin API fills it from partner=.
	Partner string
	All     bool
	// Since keeps only dead letters whose dead_at is at or after it (unix
	// ms); 0: any time. It narrows the others and names nothing by itself.
	Since int64
	// Take, for a replay of a two-way partner's conflict dead letters, is
	// the side whose record wins: ours or theirs (docs/partners.md,
	// "Conflicts"); the caller settles them (Replay does not).
	Take string
	// Max is the most dead letters one Replay or Drop handles (0: every one
	// that matches); the admin API sets it so one call stays bounded in
	// time and memory (docs/security.md). List ignores it.
	Max int
}

// ErrNoFilter is returned when a replay or drop names nothing.
var ErrNoFilter = errors.New("name dead letters with ids, a reason or all")

// Empty reports whether the filter names nothing.
func (f DeadFilter) Empty() bool {
	return len(f.IDs) == 0 && f.Reason == "" && f.Account == "" && !f.All
}

// match reports whether d is one f picks; ids is f.IDs as a set (idSet),
// so a filter of thousands of ids costs one lookup per entry.
func (f DeadFilter) match(d DeadLetter, ids map[string]struct{}) bool {
	if len(ids) > 0 {
		_, byEvent := ids[d.EventID]
		_, byEntry := ids[d.DeadID]
		if !byEvent && !byEntry {
			return false
		}
	}
	return (f.Reason == "" || f.Reason == d.Reason) && (f.Account == "" || f.Account == d.Account) && d.At >= f.Since
}

func (f DeadFilter) idSet() map[string]struct{} {
	if len(f.IDs) == 0 {
		return nil
	}
	set := make(map[string]struct{}, len(f.IDs))
	for _, id := range f.IDs {
		set[id] = struct{}{}
	}
	return set
}

// deadLetter reads one entry of the dead-letter stream, with the fields
// packed in layout.MoreField unfolded.
func deadLetter(xm redis.XMessage) DeadLetter {
	f := make(map[string]string, len(xm.Values))
	for k, v := range xm.Values {
		f[k] = fmt.Sprint(v)
	}
	_ = layout.ExpandFields(f) // one that cannot be unfolded is shown as it is
	n, _ := strconv.Atoi(f["dead_attempts"])
	at, _ := strconv.ParseInt(f["dead_at"], 10, 64)
	return DeadLetter{DeadID: xm.ID, EventID: f["id"], Account: f["account"], Reason: f["dead_reason"], Error: f["dead_error"], Attempts: n, At: at, Fields: f}
}

// MaxListBytes bounds one page of ListDead (and List): a page ends after
// the entry that brings the bytes of its fields to 4 MiB, whatever the
// limit, and its cursor continues from there; a page holds at least one
// entry. Entries are read from Redis in batches sized to stay near it.
const MaxListBytes = 4 << 20

// listBatch bounds the entries one XRANGE of ListDead reads: the first
// batch is small, later ones are sized by the entries seen so far.
const (
	listBatchFirst = 16
	listBatchMax   = 500
)

// ListDead returns up to limit dead letters that match f, oldest first,
// starting after cursor (a dead-letter entry id; "" for the start), and the
// cursor of the next page ("" at the end). A page stops early at
// MaxListBytes.
func ListDead(ctx context.Context, rdb redis.UniversalClient, k layout.Keys, f DeadFilter, cursor string, limit int) ([]DeadLetter, string, error) {
	if limit <= 0 {
		limit = 100
	}
	start := "-"
	if cursor != "" {
		start = "(" + cursor
	}
	ids := f.idSet()
	var out []DeadLetter
	size, batch := 0, int64(listBatchFirst)
	for {
		page, err := rdb.XRangeN(ctx, k.Dead, start, "+", batch).Result()
		if err != nil {
			return nil, "", fmt.Errorf("read %s: %w", k.Dead, err)
		}
		read := 0
		for i, xm := range page {
			n := entryBytes(xm)
			read += n
			d := deadLetter(xm)
			if !f.match(d, ids) {
				continue
			}
			out = append(out, d)
			size += n
			if len(out) == limit || size >= MaxListBytes {
				if i == len(page)-1 && int64(len(page)) < batch {
					return out, "", nil
				}
				return out, xm.ID, nil
			}
		}
		if int64(len(page)) < batch {
			return out, "", nil
		}
		start = "(" + page[len(page)-1].ID
		batch = int64(min(max(MaxListBytes/max(read/len(page), 1), listBatchFirst), listBatchMax))
	}
}

// listedBytes is about what entryBytes counted for the entries of list.
func listedBytes(list []DeadLetter) int {
	n := 0
	for _, d := range list {
		n += len(d.DeadID)
		for k, v := range d.Fields {
			n += len(k) + len(v)
		}
	}
	return n
}

// entryBytes is the size of a stream entry's field names and values.
func entryBytes(xm redis.XMessage) int {
	n := len(xm.ID)
	for k, v := range xm.Values {
		s, _ := v.(string)
		n += len(k) + len(s)
	}
	return n
}

// Dead-letter operations need these of the pipeline's settings.
type DeadOps struct {
	RDB redis.UniversalClient
	// Keys of a single shard; Shards, when set, of every shard (Keys is
	// then ignored).
	Keys       layout.Keys
	Shards     layout.Shards
	Instance   string
	AttemptLog bool
	Clock      Clock
	// Partner names the partner whose key sets these are, for the dead
	// letters List returns (DeadLetter.Partner); "" with one partner.
	Partner string
}

// Clock tells the time of a replay; nil is the wall clock.
type Clock interface {
	Now() time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Replay re-enters every dead letter that matches f as a new entry of the
// events stream (same id, ledger check skipped once, a `replayed` row) and
// removes it from the dead-letter stream. It returns the ids replayed: at
// most f.Max of them when f.Max is set.
//
// The ledger check is skipped because the entry carries a replay proof
// made with streamsync's key (read from, or made once in, Redis: no
// setting needed), not because of a marker anyone could write
// (docs/security.md).
func (o DeadOps) Replay(ctx context.Context, f DeadFilter) ([]string, error) {
	if f.Empty() {
		return nil, ErrNoFilter
	}
	key, err := proof.Load(ctx, o.RDB, o.shards()[0].ProofKey)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	clock := o.Clock
	if clock == nil {
		clock = wallClock{}
	}
	return o.each(ctx, f, func(d DeadLetter) error {
		ok, err := layout.Replay(ctx, o.RDB, o.shards()[d.Shard], d.DeadID, d.Fields["entity"], clock.Now(), o.Instance, o.AttemptLog,
			replayFields(d.Fields, key, o.shards()[d.Shard].Target))
		if err == nil && !ok {
			return errGone
		}
		return err
	})
}

// replayFields is the entry a dead letter re-enters as: its own fields
// byte for byte (without the dead_* ones and streamsync's own), at most
// layout's maxFlatFields of them as fields and the rest packed, _ss_replay=1, and
// the replay's proof made with key, and _ss_for=target when the dead
// letter is one of several partners' (only that partner delivers it again).
func replayFields(fields map[string]string, key *proof.Key, target string) []string {
	f := layout.FlatFields(fields, func(k string) bool {
		return !handlers.IsMeta(k) && !strings.HasPrefix(k, "dead_")
	})
	f = append(f, handlers.MetaReplay, "1", handlers.MetaProof, key.Sign(proof.Replay, fields))
	if target != "" {
		f = append(f, handlers.MetaFor, target)
	}
	return f
}

// Drop deletes every dead letter that matches f (at most f.Max when set)
// and returns their ids.
func (o DeadOps) Drop(ctx context.Context, f DeadFilter) ([]string, error) {
	if f.Empty() {
		return nil, ErrNoFilter
	}
	return o.each(ctx, f, func(d DeadLetter) error {
		n, err := o.RDB.XDel(ctx, o.shards()[d.Shard].Dead, d.DeadID).Result()
		if err == nil && n == 0 {
			return errGone
		}
		return err
	})
}

var errGone = errors.New("gone")

func (o DeadOps) shards() layout.Shards {
	if len(o.Shards) > 0 {
		return o.Shards
	}
	return layout.Shards{o.Keys}
}

func (o DeadOps) each(ctx context.Context, f DeadFilter, do func(DeadLetter) error) ([]string, error) {
	var done []string
	for i, k := range o.shards() {
		if f.Max > 0 && len(done) >= f.Max {
			break
		}
		cursor := ""
		for {
			page, next, err := ListDead(ctx, o.RDB, k, f, cursor, 500)
			if err != nil {
				return done, err
			}
			for _, d := range page {
				if f.Max > 0 && len(done) >= f.Max {
					return done, nil
				}
				d.Shard = i
				if err := do(d); errors.Is(err, errGone) {
					continue // someone else took it meanwhile
				} else if err != nil {
					return done, fmt.Errorf("dead letter %s (%s): %w", d.DeadID, d.EventID, err)
				}
				done = append(done, d.EventID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	return done, nil
}

// List is ListDead over every shard, shard by shard. With more than one
// shard a cursor is "SHARD/ENTRY_ID"; with one it is the entry id alone.
func (o DeadOps) List(ctx context.Context, f DeadFilter, cursor string, limit int) ([]DeadLetter, string, error) {
	out, next, err := o.list(ctx, f, cursor, limit)
	for i := range out {
		out[i].Partner = o.Partner
	}
	return out, next, err
}

func (o DeadOps) list(ctx context.Context, f DeadFilter, cursor string, limit int) ([]DeadLetter, string, error) {
	shards := o.shards()
	if len(shards) == 1 {
		return ListDead(ctx, o.RDB, shards[0], f, cursor, limit)
	}
	if limit <= 0 {
		limit = 100
	}
	from, after := 0, ""
	if cursor != "" {
		s, id, ok := strings.Cut(cursor, "/")
		n, err := strconv.Atoi(s)
		if !ok || err != nil || n < 0 || n >= len(shards) {
			return nil, "", fmt.Errorf("cursor %q: want SHARD/ENTRY_ID with a shard below %d", cursor, len(shards))
		}
		from, after = n, id
	}
	var out []DeadLetter
	for i := from; i < len(shards); i++ {
		page, next, err := ListDead(ctx, o.RDB, shards[i], f, after, limit-len(out))
		if err != nil {
			return nil, "", err
		}
		after = ""
		for j := range page {
			page[j].Shard = i
		}
		out = append(out, page...)
		if next != "" {
			return out, fmt.Sprintf("%d/%s", i, next), nil
		}
		if len(out) == limit || listedBytes(out) >= MaxListBytes {
			if i+1 < len(shards) {
				return out, fmt.Sprintf("%d/", i+1), nil
			}
			return out, "", nil
		}
	}
	return out, "", nil
}

// Status is ReadShardsStatus with the operations' Redis and keys.
func (o DeadOps) Status(ctx context.Context) (Status, error) {
	return ReadShardsStatus(ctx, o.RDB, o.shards())
}
