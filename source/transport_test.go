package source_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/apiclient"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/internal/tlsconf"
	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/source"
)

// The source's read API behind TLS that wants a client certificate: read
// with source.tls_ca_file and source.tls_cert_file, its token endpoint
// too (docs/security.md, "Transport"); without the certificate nothing is
// read.
func TestHTTPSourceOverMutualTLS(t *testing.T) {
	ca := testenv.NewCA(t)
	client := ca.Client(t, "streamsync")
	sim, err := partnersim.New(partnersim.Options{ClientID: "src", ClientSecret: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(sim)
	hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(t).TLS}, ClientCAs: ca.Pool, ClientAuth: tls.RequireAndVerifyClientCert}
	hs.StartTLS()
	defer hs.Close()
	plain := httptest.NewServer(sim) // the same records, for the test to write them
	defer plain.Close()
	put(t, plain.URL, "reg", "k1", "a", 3, `{"n":1}`)
	open := func(f tlsconf.Files) source.Source {
		tc, err := tlsconf.Client("source", f, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := source.New(source.Config{Kind: source.KindHTTP, BaseURL: hs.URL, ClientID: "src", ClientSecret: "pw", TLS: tc, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	ctx := context.Background()
	s := open(tlsconf.Files{CAFile: ca.File, CertFile: client.CertFile, KeyFile: client.KeyFile})
	if rec, found, err := s.Get(ctx, "reg", "k1"); err != nil || !found || rec.Version != 3 {
		t.Fatalf("get over mTLS: %+v %v %v", rec, found, err)
	}
	if recs := drain(t, s.List("reg", source.ListOptions{}), 1000); len(recs) != 1 {
		t.Fatalf("list over mTLS: %+v", recs)
	}
	if _, _, err := open(tlsconf.Files{CAFile: ca.File}).Get(ctx, "reg", "k1"); err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Fatalf("without a client certificate: %v", err)
	}
}

// linkAPI answers list requests of entity "reg" with one item a page and a
// next_cursor of its own choosing; elsewhere counts the requests another
// server got.
type linkAPI struct {
	srv       *httptest.Server
	elsewhere *httptest.Server
	asked     atomic.Int64 // requests elsewhere got
	next      func(api *linkAPI, page int) string
}

func newLinkAPI(t *testing.T, next func(api *linkAPI, page int) string) *linkAPI {
	a := &linkAPI{next: next}
	a.elsewhere = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.asked.Add(1)
		fmt.Fprint(w, `{"items":[],"next_cursor":""}`)
	}))
	t.Cleanup(a.elsewhere.Close)
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page := 0
		fmt.Sscan(r.URL.Query().Get("page"), &page)
		if r.URL.Query().Get("cursor") == "page:1" {
			page = 1
		}
		fmt.Fprintf(w, `{"items":[{"key":"k%d","account":"a","version":1,"data":{}}],"next_cursor":%q}`, page, a.next(a, page))
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// A next_cursor that is a link is fetched on the configured scheme, host
// and port; a link to another host, port or scheme ends the listing with an
// error and is never fetched (docs/security.md, "Transport"); an opaque
// cursor goes back as the cursor parameter.
func TestListFollowsNextLinksOnlyToTheConfiguredOrigin(t *testing.T) {
	for _, tc := range []struct {
		name    string
		next    func(a *linkAPI, page int) string
		keys    int  // records read before the end or the refusal (whose page is not returned)
		refused bool // the listing ends with ErrOtherOrigin
	}{
		{"link on the same origin", func(a *linkAPI, page int) string {
			if page >= 2 {
				return ""
			}
			return fmt.Sprintf("%s/v1/reg?page=%d", a.srv.URL, page+1)
		}, 3, false},
		{"link to another host", func(a *linkAPI, page int) string {
			return strings.Replace(a.elsewhere.URL, "127.0.0.1", "localhost", 1) + "/v1/reg?page=1"
		}, 0, true},
		{"link to another port", func(a *linkAPI, page int) string { return a.elsewhere.URL + "/v1/reg?page=1" }, 0, true},
		{"scheme-relative link to another port", func(a *linkAPI, page int) string {
			return strings.TrimPrefix(a.elsewhere.URL, "http:") + "/v1/reg?page=1"
		}, 0, true},
		{"link to another scheme", func(a *linkAPI, page int) string {
			return strings.Replace(a.srv.URL, "http://", "https://", 1) + "/v1/reg?page=1"
		}, 0, true},
		{"opaque cursor", func(a *linkAPI, page int) string {
			if page > 0 {
				return ""
			}
			return "page:1"
		}, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newLinkAPI(t, tc.next)
			s, err := source.New(source.Config{Kind: source.KindHTTP, BaseURL: a.srv.URL, Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			it := s.List("reg", source.ListOptions{})
			keys := 0
			var lerr error
			for {
				page, err := it.Next(context.Background())
				if err != nil {
					lerr = err
					break
				}
				keys += len(page)
			}
			if keys != tc.keys || a.asked.Load() != 0 {
				t.Fatalf("read %d records (want %d); the other server was asked %d times; end: %v", keys, tc.keys, a.asked.Load(), lerr)
			}
			if tc.refused != errors.Is(lerr, apiclient.ErrOtherOrigin) || !tc.refused && !errors.Is(lerr, io.EOF) {
				t.Fatalf("listing ended with %v", lerr)
			}
			if tc.refused {
				// Resuming from such a cursor is refused the same way.
				_, err := s.List("reg", source.ListOptions{Cursor: tc.next(a, 0)}).Next(context.Background())
				if !errors.Is(err, apiclient.ErrOtherOrigin) || a.asked.Load() != 0 {
					t.Fatalf("resumed from a link elsewhere: %v, asked %d", err, a.asked.Load())
				}
			}
		})
	}
}

// A redirect from the read API or from its token endpoint is never followed:
// the answer is the 3xx (docs/security.md, "Transport").
func TestRedirectsNotFollowed(t *testing.T) {
	var asked atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"t","token_type":"Bearer","expires_in":60,"items":[],"next_cursor":""}`)
	}))
	defer target.Close()
	for _, path := range []string{"/oauth/token", "/v1/"} {
		redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, path) {
				http.Redirect(w, r, target.URL+r.URL.Path, http.StatusTemporaryRedirect)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"access_token":"t","token_type":"Bearer","expires_in":60}`)
		}))
		s, err := source.New(source.Config{Kind: source.KindHTTP, BaseURL: redirect.URL, ClientID: "src", ClientSecret: "pw", Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		_, _, gerr := s.Get(context.Background(), "reg", "k1")
		_, lerr := s.List("reg", source.ListOptions{}).Next(context.Background())
		s.Close()
		redirect.Close()
		for _, err := range []error{gerr, lerr} {
			if err == nil || !strings.Contains(err.Error(), "307") || asked.Load() != 0 {
				t.Fatalf("redirect of %s: %v; the target was asked %d times", path, err, asked.Load())
			}
		}
	}
}
