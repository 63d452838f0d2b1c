package admin

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// call sends one request with the given Host (empty: the URL's) and
// headers ("Name: value") and returns the status and body.
func call(t *testing.T, method, url, host, body string, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const jsonCT = "Content-Type: application/json"
