package partnerread

import (
	"context"
	"fmt"
	"github.com/streamsync/streamsync/internal/apiclient"
	"io"
	"net/http"

	"github.com/streamsync/streamsync/profile"
	"github.com/streamsync/streamsync/source"
)

// Get reads one record by read.get; found is false when the partner
// answers 404, its answer holds no item of key, or the item is soft-deleted
// (archived, disabled …: absent, for reconciliation). A get that names
// {partner_id} takes the id from Config.IDs, else Config.Find; a record
// neither knows is not found.
func (r *Reader) Get(ctx context.Context, entity, key string) (source.Record, bool, error) {
	needsID, err := r.p.GetNeedsPartnerID(entity)
	if err != nil {
		return source.Record{}, false, err
	}
	var pid string
	if needsID {
		var found bool
		if pid, found, err = r.partnerID(ctx, entity, key); err != nil || !found {
			return source.Record{}, false, err
		}
	}
	rr, err := r.p.RenderGet(entity, key, pid)
	if err != nil {
		return source.Record{}, false, err
	}
	a, err := r.send(ctx, rr, profile.MaxGetBytes, true)
	if err == nil && a.status != http.StatusNotFound {
		err = r.judge(entity, rr, a)
	}
	if err != nil {
		return source.Record{}, false, err
	}
	if a.status == http.StatusNotFound {
		return source.Record{}, false, nil
	}
	it, found, err := r.p.ParseGet(entity, key, a.body)
	if err != nil {
		return source.Record{}, false, fmt.Errorf("partner GET %s: %w", apiclient.RedactURL(rr.URL), err)
	}
	if !found || it.Deleted {
		return source.Record{}, false, nil
	}
	return record(entity, it), true, nil
}

func (r *Reader) partnerID(ctx context.Context, entity, key string) (string, bool, error) {
	if r.cfg.IDs != nil {
		id, err := r.cfg.IDs(ctx, entity, key)
		if err != nil {
			return "", false, fmt.Errorf("partner's id of %s/%s: %w", entity, key, err)
		}
		if id != "" {
			return id, true, nil
		}
	}
	if r.cfg.Find != nil {
		id, found, err := r.cfg.Find(ctx, entity, key)
		if err != nil {
			return "", false, fmt.Errorf("find %s/%s at the partner: %w", entity, key, err)
		}
		return id, found && id != "", nil
	}
	if r.cfg.IDs == nil {
		return "", false, fmt.Errorf("%s: read.get names {partner_id}, and no id map or find request is wired", entity)
	}
	return "", false, nil
}

func record(entity string, it profile.Item) source.Record {
	return source.Record{Entity: entity, Key: it.Key, Account: it.Account, Version: it.Version, Data: it.Data}
}

// List reads every record of entity by read.list and its paging, one page
// per Next. Soft-deleted items are left out (absent, for reconciliation).
// With opt.Account, a list that names {account} is asked for that
// account's; one that names none is read whole and its items of other
// accounts dropped (items that state no account are kept). opt.Cursor is
// not supported by a profile's paging and is ignored.
func (r *Reader) List(entity string, opt source.ListOptions) source.Iterator {
	pg, err := r.p.Pager(entity, opt.Account)
	if err != nil {
		return errIterator{err}
	}
	return &iterator{r: r, entity: entity, account: opt.Account, pg: pg, limit: r.p.MaxPageBytes(entity)}
}

type iterator struct {
	r       *Reader
	entity  string
	account string
	pg      *profile.Pager
	limit   int64
}

func (it *iterator) Cursor() string { return "" }

func (it *iterator) Next(ctx context.Context) ([]source.Record, error) {
	for !it.pg.Done() {
		rr, err := it.pg.Request()
		if err != nil {
			return nil, err
		}
		a, err := it.r.send(ctx, rr, it.limit, false)
		if err == nil {
			err = it.r.judge(it.entity, rr, a)
		}
		if err != nil {
			return nil, err
		}
		items, err := it.pg.Page(a.header, a.body)
		if err != nil {
			return nil, fmt.Errorf("partner %s %s: %w", rr.Method, apiclient.RedactURL(rr.URL), err)
		}
		page := make([]source.Record, 0, len(items))
		for _, x := range items {
			if x.Deleted || (it.account != "" && !it.pg.ListsByAccount() && x.Account != "" && x.Account != it.account) {
				continue
			}
			page = append(page, record(it.entity, x))
		}
		if len(page) > 0 {
			return page, nil
		}
	}
	return nil, io.EOF
}

type errIterator struct{ err error }

func (e errIterator) Next(context.Context) ([]source.Record, error) { return nil, e.err }
func (errIterator) Cursor() string                                  { return "" }

var _ source.Source = (*Reader)(nil)
