package source_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/source"
)

// Neither a token the API echoes in an error answer, nor the client
// secret, nor the password of a user-info base URL is in the errors, the
// log or a printed Config; the user info still reaches the API as HTTP
// Basic credentials (docs/security.md, "Secrets").
func TestSourceErrorsWithoutSecrets(t *testing.T) {
	const secret, token, urlPassword = "SOURCE-CLIENT-SECRET-1a2b", "SOURCE-ACCESS-TOKEN-3c4d5e", "SOURCE-URL-PW-6f7a"
	var basic []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, token)
			return
		}
		if _, pw, ok := r.BasicAuth(); ok {
			basic = append(basic, pw)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		auth := r.Header.Get("Authorization")
		if strings.HasPrefix(auth, "Bearer ") {
			auth += ", client_secret=" + secret
		}
		fmt.Fprintf(w, "down; you sent %q", auth)
	}))
	defer hs.Close()
	userURL := strings.Replace(hs.URL, "http://", "http://reader:"+urlPassword+"@", 1)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	for _, cfg := range []source.Config{
		{Kind: source.KindHTTP, BaseURL: hs.URL, ClientID: "src", ClientSecret: secret, Timeout: time.Second, Retries: 1, Logger: log},
		{Kind: source.KindHTTP, BaseURL: userURL, Timeout: time.Second, Retries: 1, Logger: log},
	} {
		s, err := source.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, _, gerr := s.Get(context.Background(), "reg", "k1")
		_, lerr := s.List("reg", source.ListOptions{}).Next(context.Background())
		s.Close()
		seen := fmt.Sprintf("get: %v\nlist: %v\nlog: %s\nconfig: %v %+v %#v", gerr, lerr, logs.String(), cfg, cfg, cfg)
		for _, sec := range []string{secret, token, urlPassword} {
			if strings.Contains(seen, sec) {
				t.Errorf("%s shows up:\n%s", sec, seen)
			}
		}
		if gerr == nil || lerr == nil || !strings.Contains(gerr.Error(), "503") {
			t.Fatalf("want 503 errors, got %v, %v", gerr, lerr)
		}
	}
	if len(basic) == 0 || basic[0] != urlPassword {
		t.Fatalf("the base URL's user info did not reach the API as Basic credentials: %v", basic)
	}
}
