package apiclient

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

func TestScrub(t *testing.T) {
	const sec = "s3cret/+ &\"x"
	for _, tc := range []struct{ in, want string }{
		{"as is: " + sec, "as is: <redacted>"},
		{"form: client_secret=" + url.QueryEscape(sec) + "&x=1", "form: client_secret=<redacted>&x=1"},
		{"path: /" + url.PathEscape(sec), "path: /<redacted>"},
		{`json: {"secret":"s3cret/+ &\"x"}`, `json: {"secret":"<redacted>"}`},
		{"base64: " + base64.StdEncoding.EncodeToString([]byte(sec)), "base64: <redacted>"},
		{"nothing here", "nothing here"},
		{"clipped: s3cret/+…", "clipped: <redacted>…"},
		{"clipped: s3cr", "clipped: <redacted>"},
		{"clipped: s3c…", "clipped: s3c…"}, // too short to tell
	} {
		if got := Scrub(tc.in, sec); got != tc.want {
			t.Errorf("Scrub(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := Scrub("a short pw in seconds", "pw", "sec", ""); got != "a short pw in seconds" {
		t.Errorf("a secret shorter than MinSecretLen was replaced: %q", got)
	}
}

// A token endpoint that echoes what it was sent — the form body and the
// Basic credential — in its refusal: the error, and the RetrieveError's
// body that callers classify, hold neither the client secret nor a token;
// Scrub hides the tokens issued.
func TestTokensScrubTheirSecrets(t *testing.T) {
	const id, secret = "client-1", "TOKEN-ENDPOINT-SECRET-42"
	refuse := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if refuse {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"you sent %s with %s","secret":%q}`, body, r.Header.Get("Authorization"), secret)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"ACCESS-TOKEN-0123456789","token_type":"Bearer","expires_in":3600}`)
	}))
	defer srv.Close()
	tokens := NewTokens(srv.URL+"/oauth/token", id, secret, nil, 0, nil)
	_, _, err := tokens.Get(context.Background())
	if err == nil {
		t.Fatal("no error")
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("the RetrieveError is lost: %v", err)
	}
	for what, s := range map[string]string{"error": err.Error(), "body": string(re.Body), "description": re.ErrorDescription} {
		if strings.Contains(s, secret) || strings.Contains(s, url.QueryEscape(secret)) ||
			strings.Contains(s, base64.StdEncoding.EncodeToString([]byte(id+":"+secret))) {
			t.Errorf("the %s holds the secret: %s", what, s)
		}
		if !strings.Contains(s, Redacted) {
			t.Errorf("the %s shows no redaction: %s", what, s)
		}
	}
	refuse = false
	tok, _, err := tokens.Get(context.Background())
	if err != nil || tok != "ACCESS-TOKEN-0123456789" {
		t.Fatalf("token %q %v", tok, err)
	}
	if got := tokens.Scrub("the partner said: bad token ACCESS-TOKEN-0123456789"); got != "the partner said: bad token <redacted>" {
		t.Errorf("Scrub left the token: %q", got)
	}
	var none *Tokens
	if none.Scrub("x") != "x" {
		t.Error("a nil *Tokens changed the text")
	}
}

// The partner sink scrubs every answer's detail: a detail without a secret
// costs no allocation once the secrets' forms are known, and the memo of
// forms stays bounded while tokens come and go.
func TestScrubWorksOutFormsOnce(t *testing.T) {
	secrets := []string{"client-secret-1234", "cid:client-secret-1234", "token-abcdefgh"}
	Scrub("200 OK", secrets...)
	if n := testing.AllocsPerRun(100, func() { Scrub("200 OK", secrets...) }); n != 0 {
		t.Fatalf("Scrub of a detail without secrets allocated %v times a call", n)
	}
	for i := range 3 * maxFormsMemo {
		sec := fmt.Sprintf("rotated-token-%06d", i)
		if got := Scrub("echo "+sec, sec); got != "echo "+Redacted {
			t.Fatalf("Scrub = %q", got)
		}
	}
	if n := formsMemoN.Load(); n > maxFormsMemo {
		t.Fatalf("memo holds %d secrets, more than %d", n, maxFormsMemo)
	}
	if got := Scrub("x client-secret-1234 y", secrets...); got != "x "+Redacted+" y" {
		t.Fatalf("after the memo was emptied, Scrub = %q", got)
	}
}
