package apiclient

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestSameOrigin(t *testing.T) {
	base, _ := url.Parse("https://partner.example/api")
	for _, tc := range []struct {
		ref  string
		want string // the URL returned; "" means refused
	}{
		{"https://partner.example/api/v1/x?cursor=2", "https://partner.example/api/v1/x?cursor=2"},
		{"https://PARTNER.example:443/v1/x", "https://PARTNER.example:443/v1/x"},
		{"//partner.example/v1/x", "https://partner.example/v1/x"},
		{"/v1/x?cursor=2", "https://partner.example/v1/x?cursor=2"},
		{"http://partner.example/v1/x", ""},            // another scheme
		{"https://evil.example/v1/x", ""},              // another host
		{"https://partner.example:8443/v1/x", ""},      // another port
		{"https://partner.example.evil.example/x", ""}, // a look-alike host
		{"//evil.example/v1/x", ""},
		{"https://user:pw@partner.example/v1/x", ""}, // user info
		{"https://evil.example%2f@partner.example/", ""},
		{"file:///etc/passwd", ""},
		{"gopher://partner.example/x", ""},
	} {
		got, err := SameOrigin(base, tc.ref)
		if tc.want == "" {
			if err == nil || !errors.Is(err, ErrOtherOrigin) {
				t.Errorf("%s: want refused, got %v, %v", tc.ref, got, err)
			}
			if err != nil && strings.Contains(err.Error(), "pw@") {
				t.Errorf("%s: the error shows the password: %v", tc.ref, err)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("%s: got %v, %v; want %s", tc.ref, got, err, tc.want)
		}
	}
}

func TestIsLink(t *testing.T) {
	for s, want := range map[string]bool{
		"https://p.example/v1/x?cursor=2": true, "http://p.example": true, "//p.example/x": true, "HTTPS:x": true,
		"": false, "abc": false, "page:2": false, "offset:100": false, "abc/def==": false, "/v1/x?cursor=2": false, "eyJvIjo1MH0=": false,
	} {
		if got := IsLink(s); got != want {
			t.Errorf("IsLink(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://p.example/x":             "https://p.example/x",
		"https://u:s3cret@p.example/x":    "https://u:xxxxx@p.example/x",
		"https://u@p.example/x":           "https://u@p.example/x",
		"postgres://u:s3cret@db/x":        "postgres://u:xxxxx@db/x",
		"https://u:s3%zzcret@p.example/x": "https://xxxxx@p.example/x",
		"not a url":                       "not a url",
	} {
		if got := RedactURL(raw); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}
