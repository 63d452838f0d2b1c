package reconcile

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Sides of reconcile_items.
const (
	SideOurs   = "ours"
	SideTheirs = "theirs"
)

// item is one record of one side as reconcile_items holds it.
type item struct {
	Entity, Key, Account string
	Version              int64
	Hash                 string // "" for a tombstone
	Deleted              bool
	Data                 string // ours only: what a repair sends
	ParentEntity         string
	ParentKey            string
}

// itemWriter appends items to reconcile_items in batches of batchSize rows
// (one INSERT with an explicit column list each, as 18.16 needs).
type itemWriter struct {
	conn      driver.Conn
	db        string
	runID     string
	side      string
	batchSize int
	noHash    bool // every item's hash is left empty: content is not compared

	batch driver.Batch
	n     int
	total int64
}

func (w *itemWriter) add(ctx context.Context, it item) error {
	if w.batch == nil {
		b, err := w.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO `%s`.`%s` (%s)", w.db, ItemsTable, cols(itemColumns)))
		if err != nil {
			return fmt.Errorf("reconcile_items: prepare insert: %w", err)
		}
		w.batch = b
	}
	if w.noHash {
		it.Hash = "" // content is not compared (Config.noContent)
	}
	var del uint8
	if it.Deleted {
		del = 1
	}
	if err := w.batch.Append(w.runID, w.side, it.Entity, it.Key, it.Account, it.Version, it.Hash, del, it.Data, it.ParentEntity, it.ParentKey); err != nil {
		return fmt.Errorf("reconcile_items: append: %w", err)
	}
	w.n++
	w.total++
	if w.n >= w.batchSize {
		return w.flush()
	}
	return nil
}

func (w *itemWriter) flush() error {
	if w.batch == nil {
		return nil
	}
	b := w.batch
	w.batch, w.n = nil, 0
	if err := b.Send(); err != nil {
		return fmt.Errorf("reconcile_items: insert: %w", err)
	}
	return nil
}

func (w *itemWriter) abort() {
	if w.batch != nil {
		_ = w.batch.Abort()
		w.batch = nil
	}
}
