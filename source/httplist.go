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

// List is GET /v1/{entity}?account=A&cursor=C&limit=N (docs/partner-api.md), one
// request per page; a transient failure of a page is asked again (Retries
// times, backing off from 200 ms, honouring Retry-After up to a minute).
//
// A next_cursor that is a URL (a next-page link, as many APIs answer) is
// the next page's URL, fetched as it is — but only on the configured
// scheme, host and port: a link elsewhere ends the listing with an error
// wrapping apiclient.ErrOtherOrigin and is never fetched
// (docs/security.md, "Transport"). Any other next_cursor is opaque and
// goes back as the cursor parameter.
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
		target, err := it.target()
		if err != nil {
			return nil, err
		}
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
		} else if apiclient.IsLink(a.NextCursor) {
			if _, err := apiclient.SameOrigin(it.s.baseURL, a.NextCursor); err != nil {
				return nil, fmt.Errorf("%s GET %s: next_cursor: %w", it.s.cfg.Label, target, err)
			}
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

// target is the next page's URL: the cursor when it is a link on the
// configured origin, else the list request with the cursor as a parameter.
// A link to elsewhere (say, a resumed cursor) is refused here too.
func (it *httpIterator) target() (string, error) {
	if apiclient.IsLink(it.cursor) {
		u, err := apiclient.SameOrigin(it.s.baseURL, it.cursor)
		if err != nil {
			return "", fmt.Errorf("%s list %s: cursor: %w", it.s.cfg.Label, it.entity, err)
		}
		return u.String(), nil
	}
	q := url.Values{}
	if it.account != "" {
		q.Set("account", it.account)
	}
	if it.cursor != "" {
		q.Set("cursor", it.cursor)
	}
	q.Set("limit", strconv.Itoa(it.s.cfg.PageSize))
	return it.s.base + "/v1/" + apiclient.PathSegment(it.entity) + "?" + q.Encode(), nil
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
