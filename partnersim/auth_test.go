package partnersim

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func TestTokenEndpoint(t *testing.T) {
	s := start(t, nil)
	s.token = ""
	tests := []struct {
		name   string
		form   url.Values
		basic  [2]string
		status int
		errKey string
	}{
		{"form credentials", url.Values{"grant_type": {"client_credentials"}, "client_id": {"id"}, "client_secret": {"s3cret"}}, [2]string{}, 200, ""},
		{"basic credentials", url.Values{"grant_type": {"client_credentials"}}, [2]string{"id", "s3cret"}, 200, ""},
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {"id"}, "client_secret": {"nope"}}, [2]string{}, 401, "invalid_client"},
		{"wrong basic", url.Values{"grant_type": {"client_credentials"}}, [2]string{"id", "nope"}, 401, "invalid_client"},
		{"no credentials", url.Values{"grant_type": {"client_credentials"}}, [2]string{}, 401, "invalid_client"},
		{"wrong grant", url.Values{"grant_type": {"password"}, "client_id": {"id"}, "client_secret": {"s3cret"}}, [2]string{}, 400, "unsupported_grant_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, s.url+"/oauth/token", stringsReader(tt.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.basic[0] != "" {
				req.SetBasicAuth(tt.basic[0], tt.basic[1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body := decodeBody(t, resp)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tt.status, body)
			}
			if tt.status == 200 {
				if body["access_token"] == "" || body["token_type"] != "Bearer" || body["expires_in"] != float64(60) {
					t.Fatalf("token body %v", body)
				}
				return
			}
			if body["error"] != tt.errKey {
				t.Fatalf("error %v, want %s", body["error"], tt.errKey)
			}
		})
	}
}

// The client streamsync uses gets tokens both ways the endpoint accepts.
func TestTokenWithClientCredentialsLibrary(t *testing.T) {
	s := start(t, nil)
	for i, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cc := clientcredentials.Config{ClientID: "id", ClientSecret: "s3cret", TokenURL: s.url + "/oauth/token", AuthStyle: style}
		tok, err := cc.Token(context.Background())
		if err != nil {
			t.Fatalf("style %d: %v", style, err)
		}
		s.token = tok.AccessToken
		if st, body := s.put("main_registration", "m-1", rec("a", int64(10+i), `{}`), ""); st != http.StatusCreated && st != http.StatusOK {
			t.Fatalf("style %d: PUT with library token: %d %v", style, st, body)
		}
	}
}

func TestBearerToken(t *testing.T) {
	s := start(t, nil)
	good := s.token
	tests := []struct {
		name   string
		token  string
		before func()
		status int
	}{
		{"valid", good, nil, http.StatusCreated},
		{"missing", "", nil, http.StatusUnauthorized},
		{"unknown", "deadbeef", nil, http.StatusUnauthorized},
		{"expired", good, func() { s.clock.Add(61 * time.Second) }, http.StatusUnauthorized},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before()
			}
			s.token = tt.token
			st, body := s.put("x", "k", rec("a", int64(i+1), `{}`), "")
			if st != tt.status {
				t.Fatalf("status %d, want %d (%v)", st, tt.status, body)
			}
			if st == http.StatusUnauthorized && body["error"] != "invalid_token" {
				t.Fatalf("401 body %v", body)
			}
		})
	}
	s.token = s.fetchToken() // a fresh token works again after expiry
	if st, _ := s.put("x", "k", rec("a", 9, `{}`), ""); st != http.StatusOK {
		t.Fatalf("fresh token: %d", st)
	}
}

func TestNoAuthWhenNoClientID(t *testing.T) {
	s := start(t, func(o *Options) { o.ClientID = "" })
	if st, body := s.put("x", "k", rec("a", 1, `{}`), ""); st != http.StatusCreated {
		t.Fatalf("status %d %v", st, body)
	}
}
