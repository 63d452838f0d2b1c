package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/source"
)

// Reader reads one side's records: source.Source implements it, for our
// source and for the partner's list and get endpoints alike.
type Reader interface {
	List(entity string, opt source.ListOptions) source.Iterator
	Get(ctx context.Context, entity, key string) (source.Record, bool, error)
}

// HashFunc is what records are compared by: a hash of one record's data.
type HashFunc func(entity string, data json.RawMessage) string

// ContentHash is the default HashFunc: event.ContentHash, what the ledger
// keeps (docs/reconcile.md).
func ContentHash(_ string, data json.RawMessage) string { return event.ContentHash(data) }

// itemOf is a record as reconcile_items keeps it; withData keeps what a
// repair needs (our side only).
func itemOf(r source.Record, withData bool, hash HashFunc) item {
	it := item{Entity: r.Entity, Key: r.Key, Account: r.Account, Version: r.Version, Hash: hash(r.Entity, r.Data)}
	if withData {
		it.Data = string(r.Data)
		if r.Parent != nil {
			it.ParentEntity, it.ParentKey = r.Parent.Entity, r.Parent.Key
		}
	}
	return it
}

// streamList writes every record of entity (of each account, or all when
// accounts is empty) into w. Pages are fetched one ahead of the hashing and
// writing, so the network and ClickHouse overlap; at most three pages are in
// memory.
func streamList(ctx context.Context, rd Reader, w *itemWriter, entity string, accounts []string, withData bool, hash HashFunc) error {
	if len(accounts) == 0 {
		accounts = []string{""}
	}
	for _, acc := range accounts {
		lctx, cancel := context.WithCancel(ctx) // the listing's; batches keep ctx
		pages := make(chan []source.Record, 1)
		errc := make(chan error, 1)
		go func() {
			defer close(pages)
			it := rd.List(entity, source.ListOptions{Account: acc})
			for {
				page, err := it.Next(lctx)
				if errors.Is(err, io.EOF) {
					errc <- nil
					return
				}
				if err != nil {
					errc <- err
					return
				}
				select {
				case pages <- page:
				case <-lctx.Done():
					errc <- lctx.Err()
					return
				}
			}
		}()
		var werr error
		for page := range pages {
			if werr != nil {
				continue
			}
			for _, r := range page {
				if werr = w.add(ctx, itemOf(r, withData, hash)); werr != nil {
					cancel()
					break
				}
			}
		}
		err := <-errc
		cancel()
		if werr != nil {
			return werr
		}
		if err != nil {
			return err
		}
	}
	return w.flush()
}

// streamLedger writes the ledger's entries of entity into w: those of
// accounts (every account when empty), and those that keep no account
// (written before the ledger kept it), whose number it returns.
func streamLedger(ctx context.Context, l RedisLedger, w *itemWriter, entity string, accounts []string) (noAccount int64, err error) {
	err = l.Scan(ctx, entity, func(key string, e LedgerEntry) error {
		if !keepLedger(e.Account, accounts) {
			return nil
		}
		if e.Account == "" {
			noAccount++
		}
		return w.add(ctx, ledgerItem(entity, key, e))
	})
	if err != nil {
		return noAccount, err
	}
	return noAccount, w.flush()
}
