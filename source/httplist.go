package source

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/streamsync/streamsync/internal/apiclient"
)

// List is GET /v1/{entity}?account=A&cursor=C&limit=N (contract §2), one
// request per page; a transient failure of a page is asked again (Retries
// times, backing off from 200 ms, honouring Retry-After up to a minute).
func (s *httpSource) List(entity string, opt ListOptions) Iterator {
	return &httpIterator{s: s, entity: entity, account: opt.Account, cursor: opt.Cursor}
}

type httpIterator struct {
	s       *httpSource
	entity  string
	account string
	cursor  string
	done    bool
}

type listAnswer struct {
	Items []struct {
		Key     string          `json:"key"`
		Account string          `json:"account"`
		Version int64           `json:"version"`
		Data    json.RawMessage `json:"data"`
		Parent  *Ref            `json:"parent"`
	} `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func (it *httpIterator) Cursor() string { return it.cursor }

func (it *httpIterator) Next(ctx context.Context) ([]Record, error) {
	for !it.done {
		q := url.Values{}
		if it.account != "" {
			q.Set("account", it.account)
		}
		if it.cursor != "" {
			q.Set("cursor", it.cursor)
		}
		q.Set("limit", strconv.Itoa(it.s.cfg.PageSize))
		target := it.s.base + "/v1/" + apiclient.PathSegment(it.entity) + "?" + q.Encode()
		body, err := it.fetch(ctx, target)
		if err != nil {
			return nil, err
		}
		var a listAnswer
		if err := json.Unmarshal(body, &a); err != nil {
			return nil, fmt.Errorf("%s GET %s: answer is not a list page: %w", it.s.cfg.Label, target, err)
		}
		if a.NextCursor == "" {
			it.done = true
		} else if a.NextCursor == it.cursor {
			return nil, fmt.Errorf("%s GET %s: next_cursor did not move", it.s.cfg.Label, target)
		}
		it.cursor = a.NextCursor
		page := make([]Record, 0, len(a.Items))
		for _, x := range a.Items {
			r := Record{Entity: it.entity, Key: x.Key, Account: x.Account, Version: x.Version, Data: x.Data, Parent: x.Parent}
			if err := check(r); err != nil {
				return nil, fmt.Errorf("%s GET %s: item %q is not a valid record: %w", it.s.cfg.Label, target, x.Key, err)
			}
			page = append(page, r)
		}
		if len(page) > 0 {
			return page, nil
		}
	}
	return nil, io.EOF
}

func (it *httpIterator) fetch(ctx context.Context, target string) ([]byte, error) {
	wait := 200 * time.Millisecond
	for try := 0; ; try++ {
		body, _, err := it.s.do(ctx, target, http.StatusOK)
		if err == nil || try >= it.s.cfg.Retries || !IsTransient(err) {
			return body, err
		}
		d := wait
		if se, ok := err.(*StatusError); ok && se.RetryAfter > 0 {
			d = min(se.RetryAfter, time.Minute)
		}
		it.s.cfg.Logger.Warn(it.s.cfg.Label+": list page failed, asking again", "url", target, "in", d, "err", err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 10*time.Second)
	}
}
