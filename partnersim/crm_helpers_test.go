package partnersim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// crmSim is a simulator served over real HTTP on loopback, spoken to through
// its crm API.
type crmSim struct {
	tb    testing.TB
	srv   *Server
	url   string
	clock *fakeClock
	// sign, when set, signs every call with these credentials.
	appKey, secret string
	apiKey         string
	nonce          atomic.Int64
	client         *http.Client
}

func startCRM(tb testing.TB, mutate func(*Options)) *crmSim {
	tb.Helper()
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	opts := Options{Now: clock.Now}
	if mutate != nil {
		mutate(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	tb.Cleanup(hs.Close)
	c := &crmSim{tb: tb, srv: srv, url: hs.URL, clock: clock, client: &http.Client{Timeout: 10 * time.Second}}
	switch opts.CRM.Auth {
	case CRMAuthHMAC:
		c.appKey, c.secret = opts.CRM.AppKey, opts.CRM.Secret
	case CRMAuthAPIKey:
		c.apiKey = opts.CRM.APIKey
	}
	return c
}

// crmResp is an answer: its status, headers and decoded body.
type crmResp struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (r crmResp) code() int {
	c, _ := r.body["code"].(float64)
	return int(c)
}

func (r crmResp) data() map[string]any {
	d, _ := r.body["data"].(map[string]any)
	return d
}

func (r crmResp) items() []any {
	it, _ := r.data()["items"].([]any)
	return it
}

// request builds a call, signed when the sim wants HMAC.
func (c *crmSim) request(method, path, body string, hdr map[string]string) *http.Request {
	c.tb.Helper()
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if err != nil {
		c.tb.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set(CRMAPIKeyHeader, c.apiKey)
	}
	if c.secret != "" {
		ts := strconv.FormatInt(c.clock.Now().Unix(), 10)
		nonce := "n" + strconv.FormatInt(c.nonce.Add(1), 10)
		req.Header.Set(CRMAppKeyHeader, c.appKey)
		req.Header.Set(CRMTimestampHeader, ts)
		req.Header.Set(CRMNonceHeader, nonce)
		req.Header.Set(CRMSignHeader, CRMSign(c.secret, method, req.URL.EscapedPath(), req.URL.Query(), ts, nonce, []byte(body)))
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return req
}

func (c *crmSim) send(req *http.Request) crmResp {
	c.tb.Helper()
	resp, err := c.client.Do(req)
	if err != nil {
		c.tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := crmResp{status: resp.StatusCode, header: resp.Header, raw: raw}
	if err := json.Unmarshal(raw, &out.body); err != nil {
		c.tb.Fatalf("%s %s: body %q is not a JSON object", req.Method, req.URL, raw)
	}
	return out
}

func (c *crmSim) call(method, path, body string, hdr map[string]string) crmResp {
	c.tb.Helper()
	return c.send(c.request(method, path, body, hdr))
}

// create makes a record and returns its id; the call must succeed.
func (c *crmSim) create(entity, externalID, fields, parentID string) string {
	c.tb.Helper()
	r := c.call(http.MethodPost, "/crm/v2/"+entity, crmBody(externalID, "acc-1", fields, parentID), nil)
	id, _ := r.data()["id"].(string)
	if r.status != http.StatusOK || r.code() != 0 || id == "" {
		c.tb.Fatalf("create %s: %d %s", externalID, r.status, r.raw)
	}
	return id
}

func crmBody(externalID, owner, fields, parentID string) string {
	m := map[string]any{"external_id": externalID, "owner": owner, "fields": json.RawMessage(fields)}
	if parentID != "" {
		m["parent_id"] = parentID
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func (c *crmSim) setFaults(body string) {
	c.tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.url+"/_sim/faults", strings.NewReader(body))
	resp, err := c.client.Do(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		c.tb.Fatalf("set faults %s: %d %s", body, resp.StatusCode, b)
	}
}
