package partnerread_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/partnerread"
	"github.com/streamsync/streamsync/profile"
)

// changesServer lists 5 records, r1…r5 updated at 1000…5000 ms (r3
// archived), only those updated at or after updated_since, 2 a page by a
// cursor.
func changesServer(t *testing.T) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		since, err := strconv.ParseInt(q.Get("updated_since"), 10, 64)
		if err != nil {
			t.Errorf("updated_since %q", q.Get("updated_since"))
		}
		from, _ := strconv.Atoi(q.Get("cursor"))
		var items []string
		next := ""
		for i := from + 1; i <= 5; i++ {
			if int64(i*1000) < since {
				continue
			}
			if len(items) == 2 {
				next = strconv.Itoa(i - 1)
				break
			}
			items = append(items, fmt.Sprintf(`{"id":"r%d","v":%d,"n":%d,"archived":%t,"at":%d}`, i, i, i, i == 3, i*1000))
		}
		fmt.Fprintf(w, `{"items":[%s],"next":%q}`, strings.Join(items, ","), next)
	}))
}

// A listing of changes asks for those since the moment, pages through to
// the end, keeps archived items as deleted, and resumes from a position.
func TestChangesSinceAndResume(t *testing.T) {
	hs := changesServer(t)
	defer hs.Close()
	src := profileHead + "    list: {path: /items}\n    paging: {kind: cursor, param: cursor, next: .next}\n    since: {param: updated_since, updated: .at}\n"
	p, err := profile.Parse([]byte(src), "t")
	if err != nil {
		t.Fatal(err)
	}
	r, err := partnerread.New(partnerread.Config{Profile: p, BaseURL: hs.URL + "/api"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ch, err := r.Changes("item", time.UnixMilli(2000), "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var pos string
	for {
		page, err := ch.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			got = append(got, fmt.Sprintf("%s@%d/%v", c.Key, c.Updated, c.Deleted))
		}
		if pos == "" {
			pos = ch.Position()
		}
	}
	if strings.Join(got, " ") != "r2@2000/false r3@3000/true r4@4000/false r5@5000/false" {
		t.Fatalf("changes %v", got)
	}
	if !ch.Done() || ch.Position() != "" {
		t.Fatal("a listing read to its end keeps a position")
	}
	// Resumed at the position after the first page: the rest only.
	again, err := r.Changes("item", time.UnixMilli(2000), pos)
	if err != nil {
		t.Fatal(err)
	}
	page, err := again.Next(ctx)
	if err != nil || len(page) != 2 || page[0].Key != "r4" {
		t.Fatalf("resumed page %+v %v", page, err)
	}
	if _, err := r.Changes("item", time.UnixMilli(0), "l:http://elsewhere.example/x"); err == nil {
		t.Fatal("a position of another paging kind was taken")
	}
	noSince, _ := profile.Parse([]byte(profileHead+"    list: {path: /items}\n    paging: {kind: cursor, param: cursor, next: .next}\n"), "t")
	r2, _ := partnerread.New(partnerread.Config{Profile: noSince, BaseURL: hs.URL + "/api"})
	if _, err := r2.Changes("item", time.UnixMilli(0), ""); !errors.Is(err, profile.ErrNoSince) {
		t.Fatalf("no read.since: %v", err)
	}
}
