package source_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/source"
)

// newSim starts a partnersim with auth that plays our system.
func newSim(tb testing.TB) (*partnersim.Server, *httptest.Server) {
	tb.Helper()
	sim, err := partnersim.New(partnersim.Options{ClientID: "src", ClientSecret: "pw"})
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	tb.Cleanup(srv.Close)
	return sim, srv
}

// put writes a record through the simulator's API.
func put(tb testing.TB, base, entity, key, account string, version int64, data string) {
	tb.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"src"}, "client_secret": {"pw"}}
	resp, err := http.PostForm(base+"/oauth/token", form)
	if err != nil {
		tb.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	body := fmt.Sprintf(`{"account":%q,"version":%d,"data":%s}`, account, version, data)
	req, _ := http.NewRequest(http.MethodPut, base+"/v1/"+entity+"/"+url.PathEscape(key), strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Idempotency-Key", fmt.Sprintf("seed-%s-%s-%d", entity, key, version))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		tb.Fatalf("PUT %s/%s: %d", entity, key, resp.StatusCode)
	}
}

// drain reads every page, checking that no page is larger than max.
func drain(tb testing.TB, it source.Iterator, max int) []source.Record {
	tb.Helper()
	var all []source.Record
	for {
		page, err := it.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return all
		}
		if err != nil {
			tb.Fatal(err)
		}
		if len(page) == 0 || len(page) > max {
			tb.Fatalf("page of %d records, want 1..%d", len(page), max)
		}
		all = append(all, page...)
	}
}

func TestHTTPListAndGet(t *testing.T) {
	_, srv := newSim(t)
	keys := []string{"a/b", "c d", "100%", "é?#", "k5", "k6", "k7"}
	for i, k := range keys {
		acc := "acc-1"
		if i%2 == 1 {
			acc = "acc-2"
		}
		put(t, srv.URL, "reg", k, acc, int64(10+i), fmt.Sprintf(`{"n":%d}`, i))
	}
	put(t, srv.URL, "other", "x", "acc-1", 1, `{}`)
	src, err := source.New(source.Config{Kind: source.KindHTTP, BaseURL: srv.URL, ClientID: "src", ClientSecret: "pw", PageSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	all := drain(t, src.List("reg", source.ListOptions{}), 3)
	if len(all) != len(keys) {
		t.Fatalf("listed %d records, want %d: %+v", len(all), len(keys), all)
	}
	byKey := map[string]source.Record{}
	for _, r := range all {
		byKey[r.Key] = r
		if r.Entity != "reg" {
			t.Fatalf("record of entity %q listed under reg", r.Entity)
		}
	}
	for i, k := range keys {
		if r, ok := byKey[k]; !ok || r.Version != int64(10+i) {
			t.Fatalf("key %q: got %+v", k, r)
		}
	}
	one := drain(t, src.List("reg", source.ListOptions{Account: "acc-2"}), 3)
	if len(one) != 3 {
		t.Fatalf("acc-2 has 3 records, listed %d", len(one))
	}
	r, found, err := src.Get(context.Background(), "reg", "é?#")
	if err != nil || !found || r.Version != 13 || r.Account != "acc-2" || string(r.Data) != `{"n":3}` {
		t.Fatalf("Get: %+v %v %v", r, found, err)
	}
	if _, found, err := src.Get(context.Background(), "reg", "nope"); err != nil || found {
		t.Fatalf("Get of a missing record: found %v, err %v", found, err)
	}
}

func TestHTTPResumeFromCursor(t *testing.T) {
	_, srv := newSim(t)
	for i := range 5 {
		put(t, srv.URL, "reg", fmt.Sprintf("k%d", i), "a", 1, `{}`)
	}
	src, _ := source.New(source.Config{Kind: source.KindHTTP, BaseURL: srv.URL, ClientID: "src", ClientSecret: "pw", PageSize: 2})
	it := src.List("reg", source.ListOptions{})
	first, err := it.Next(context.Background())
	if err != nil || len(first) != 2 {
		t.Fatalf("first page: %v %v", first, err)
	}
	rest := drain(t, src.List("reg", source.ListOptions{Cursor: it.Cursor()}), 2)
	if len(rest) != 3 || rest[0].Key != "k2" {
		t.Fatalf("resumed listing: %+v", rest)
	}
}

func TestHTTPErrors(t *testing.T) {
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://elsewhere.example/v1/reg", http.StatusFound)
	}))
	defer redirect.Close()
	src, _ := source.New(source.Config{Kind: source.KindHTTP, BaseURL: redirect.URL})
	_, err := src.List("reg", source.ListOptions{}).Next(context.Background())
	var se *source.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusFound || se.Location == "" || source.IsTransient(err) {
		t.Fatalf("a redirect must be a permanent error naming Location, got %v", err)
	}

	_, srv := newSim(t)
	bad, _ := source.New(source.Config{Kind: source.KindHTTP, BaseURL: srv.URL, ClientID: "src", ClientSecret: "wrong"})
	if _, _, err := bad.Get(context.Background(), "reg", "k"); err == nil || !strings.Contains(err.Error(), "source.client_id") {
		t.Fatalf("refused credentials: want an error naming source.client_id, got %v", err)
	}
}

func writeFile(tb testing.TB, name, content string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	var b []byte = []byte(content)
	if strings.HasSuffix(name, ".gz") {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(b)
		_ = zw.Close()
		b = buf.Bytes()
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

const fileContent = `{"entity":"reg","key":"r1","account":"a","version":5,"data":{"x":1}}
this is not json
{"entity":"reg","key":"r2","account":"b","version":6,"data":{"y":2},"parent":{"entity":"main","key":"m1"}}

{"entity":"reg","key":"r3","account":"a","version":0,"data":{}}
{"entity":"main","key":"m1","account":"b","version":1,"data":{}}
{"entity":"reg","key":"r4","account":"a","version":7,"data":"not an object"}
{"entity":"reg","key":"a/b c","account":"a","version":8,"data":{}}`

func TestFile(t *testing.T) {
	for _, name := range []string{"dump.jsonl", "dump.jsonl.gz"} {
		t.Run(name, func(t *testing.T) {
			var bad []int
			src, err := source.New(source.Config{Kind: source.KindFile, File: writeFile(t, name, fileContent),
				OnBadLine: func(line int, err error) { bad = append(bad, line) }})
			if err != nil {
				t.Fatal(err)
			}
			all := drain(t, src.List("reg", source.ListOptions{}), 1000)
			if len(all) != 3 || all[0].Key != "r1" || all[1].Parent == nil || all[1].Parent.Key != "m1" || all[2].Key != "a/b c" {
				t.Fatalf("records: %+v", all)
			}
			if fmt.Sprint(bad) != "[2 5 7]" {
				t.Fatalf("bad lines reported: %v, want [2 5 7]", bad)
			}
			ents, err := src.Entities(context.Background())
			if err != nil || fmt.Sprint(ents) != "[main reg]" {
				t.Fatalf("entities: %v %v", ents, err)
			}
			r, found, err := src.Get(context.Background(), "reg", "r2")
			if err != nil || !found || r.Version != 6 {
				t.Fatalf("Get r2: %+v %v %v", r, found, err)
			}
			only := drain(t, src.List("reg", source.ListOptions{Account: "b"}), 1000)
			if len(only) != 1 || only[0].Key != "r2" {
				t.Fatalf("account b: %+v", only)
			}
		})
	}
}

func TestFilePagesAndCursor(t *testing.T) {
	var b strings.Builder
	for i := range 2500 {
		fmt.Fprintf(&b, `{"entity":"e","key":"k%d","account":"a","version":1,"data":{}}`+"\n", i)
	}
	src, _ := source.New(source.Config{Kind: source.KindFile, File: writeFile(t, "big.jsonl", b.String())})
	it := src.List("e", source.ListOptions{})
	if p, err := it.Next(context.Background()); err != nil || len(p) != 1000 {
		t.Fatalf("first page: %d %v", len(p), err)
	}
	rest := drain(t, src.List("e", source.ListOptions{Cursor: it.Cursor()}), 1000)
	if len(rest) != 1500 || rest[0].Key != "k1000" {
		t.Fatalf("resumed: %d records, first %+v", len(rest), rest[0])
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  source.Config
		want string
	}{
		{source.Config{Kind: "ftp"}, "source.kind"},
		{source.Config{Kind: source.KindHTTP}, "source.base_url"},
		{source.Config{Kind: source.KindHTTP, BaseURL: "http://x", TokenURL: "nope"}, "source.token_url"},
		{source.Config{Kind: source.KindFile}, "source.file"},
		{source.Config{Kind: source.KindFile, File: "/does/not/exist"}, "source.file"},
		{source.Config{Kind: source.KindNone, Entities: []string{"Bad Name"}}, "source.entities"},
	}
	for _, tc := range tests {
		if _, err := source.New(tc.cfg); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want an error naming %s", tc.cfg, err, tc.want)
		}
	}
	none, err := source.New(source.Config{})
	if err != nil || none.Kind() != source.KindNone {
		t.Fatal(none, err)
	}
	if _, _, err := none.Get(context.Background(), "e", "k"); !errors.Is(err, source.ErrNoSource) {
		t.Fatalf("none: %v", err)
	}
}
