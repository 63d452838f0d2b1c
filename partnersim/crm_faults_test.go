package partnersim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// A lost answer: the partner creates the record, the client sees the
// connection close. A retry with the same X-Request-Id gets the answer; a
// find by external_id finds the one record.
func TestCRMDropCreates(t *testing.T) {
	c := startCRM(t, nil)
	c.setFaults(`{"crm":{"drop_creates":1}}`)
	body := crmBody("k-1", "acc", `{"n":1}`, "")
	hdr := map[string]string{CRMRequestIDHeader: "evt-1"}
	if resp, err := c.client.Do(c.request(http.MethodPost, "/crm/v2/contact", body, hdr)); err == nil {
		resp.Body.Close()
		t.Fatalf("the create was answered %d; want the connection closed", resp.StatusCode)
	}
	recs := c.srv.CRMRecords("contact", "k-1")
	if len(recs) != 1 {
		t.Fatalf("%d records after the lost answer, want 1 (applied before the drop)", len(recs))
	}
	if f := c.srv.Faults().CRM.DropCreates; f != 0 {
		t.Fatalf("drop_creates left %d, want 0", f)
	}
	found := c.call(http.MethodGet, "/crm/v2/contact?external_id=k-1", "", nil)
	if ids := itemIDs(found); len(ids) != 1 || ids[0] != recs[0].ID {
		t.Fatalf("find after the lost answer: %s", found.raw)
	}
	retry := c.call(http.MethodPost, "/crm/v2/contact", body, hdr)
	if retry.data()["id"] != recs[0].ID || len(c.srv.CRMDuplicates("contact")) != 0 {
		t.Fatalf("retry: %s; duplicates %v", retry.raw, c.srv.CRMDuplicates("contact"))
	}
	if st := c.srv.CRMStats(); st.Aborted != 1 || st.Replays != 1 {
		t.Fatalf("stats %+v", st)
	}
	// A refused create does not use the fault up.
	c.setFaults(`{"crm":{"drop_creates":1}}`)
	if r := c.call(http.MethodPost, "/crm/v2/contact", `{}`, nil); r.code() != CRMCodeInvalid {
		t.Fatalf("%s", r.raw)
	}
	if f := c.srv.Faults().CRM.DropCreates; f != 1 {
		t.Fatalf("drop_creates %d after a refused create, want 1", f)
	}
}

// A bulk call that times out after it was applied.
func TestCRMHangBulk(t *testing.T) {
	c := startCRM(t, nil)
	c.setFaults(`{"crm":{"hang_bulk":1}}`)
	client := &http.Client{Timeout: 200 * time.Millisecond}
	req := c.request(http.MethodPost, "/crm/v2/contact/batch_upsert", `{"items":[`+crmBody("k-1", "a", `{}`, "")+`,`+crmBody("k-2", "a", `{}`, "")+`]}`, nil)
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the hung bulk call was answered %d", resp.StatusCode)
	}
	if n := len(c.srv.CRMRecords("contact", "")); n != 2 {
		t.Fatalf("%d records after the hung bulk call, want 2", n)
	}
	// The retry upserts by external_id: no duplicates.
	r := c.call(http.MethodPost, "/crm/v2/contact/batch_upsert", `{"items":[`+crmBody("k-1", "a", `{"x":1}`, "")+`,`+crmBody("k-2", "a", `{}`, "")+`]}`, nil)
	if r.code() != 0 || len(c.srv.CRMRecords("contact", "")) != 2 {
		t.Fatalf("retry: %s", r.raw)
	}
}

func TestCRMAnswerDelay(t *testing.T) {
	c := startCRM(t, nil)
	c.setFaults(`{"crm":{"answer_delay":"80ms"}}`)
	began := time.Now()
	c.create("contact", "k", `{}`, "")
	if took := time.Since(began); took < 80*time.Millisecond {
		t.Fatalf("answered in %v, want at least 80ms", took)
	}
}

func TestCRMRateLimitNext(t *testing.T) {
	c := startCRM(t, func(o *Options) { o.Faults.RetryAfter = Duration(3 * time.Second) })
	c.setFaults(`{"crm":{"rate_limit_next":2}}`)
	for i := range 2 {
		r := c.call(http.MethodPost, "/crm/v2/contact", crmBody("k", "a", `{}`, ""), nil)
		if r.status != http.StatusOK || r.code() != CRMCodeRateLimited || r.body["msg"] != "slow down" {
			t.Fatalf("call %d: %d %s", i, r.status, r.raw)
		}
		reset := strconv.FormatInt(c.clock.Now().Unix()+3, 10)
		if r.header.Get("X-RateLimit-Remaining") != "0" || r.header.Get("X-RateLimit-Reset") != reset {
			t.Fatalf("headers %v, want Remaining 0 and Reset %s", r.header, reset)
		}
	}
	if n := len(c.srv.CRMRecords("contact", "")); n != 0 {
		t.Fatalf("rate-limited creates made %d records", n)
	}
	c.create("contact", "k", `{}`, "")
}

// The fixed window: RateLimit calls per RateWindow, then 42900 until it ends.
func TestCRMRateWindow(t *testing.T) {
	c := startCRM(t, func(o *Options) { o.CRM.RateLimit, o.CRM.RateWindow = 3, 10*time.Second })
	end := strconv.FormatInt(time.Date(2026, 1, 2, 3, 4, 10, 0, time.UTC).Unix(), 10)
	for i, want := range []string{"2", "1", "0"} {
		r := c.call(http.MethodGet, "/crm/v2/contact", "", nil)
		if r.code() != 0 || r.header.Get("X-RateLimit-Limit") != "3" || r.header.Get("X-RateLimit-Remaining") != want || r.header.Get("X-RateLimit-Reset") != end {
			t.Fatalf("call %d: %s %v; want remaining %s, reset %s", i, r.raw, r.header, want, end)
		}
	}
	if r := c.call(http.MethodGet, "/crm/v2/contact", "", nil); r.code() != CRMCodeRateLimited || r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("fourth call: %s", r.raw)
	}
	c.clock.Add(5 * time.Second)
	if r := c.call(http.MethodGet, "/crm/v2/contact", "", nil); r.code() != 0 || r.header.Get("X-RateLimit-Remaining") != "2" {
		t.Fatalf("in the next window: %s %v", r.raw, r.header)
	}
}

func TestCRMServerFaults(t *testing.T) {
	tests := []struct {
		name, faults string
		status, code int
	}{
		{"error rate", `{"error_rate":1}`, http.StatusServiceUnavailable, CRMCodeUnavailable},
		{"outage", `{"outage":true}`, http.StatusServiceUnavailable, CRMCodeUnavailable},
		{"rate 429", `{"rate_429":1}`, http.StatusOK, CRMCodeRateLimited},
		{"reject prefix", `{"reject_prefix":"bad-"}`, http.StatusOK, CRMCodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startCRM(t, nil)
			c.setFaults(tt.faults)
			r := c.call(http.MethodPost, "/crm/v2/contact", crmBody("bad-1", "a", `{}`, ""), nil)
			if r.status != tt.status || r.code() != tt.code {
				t.Fatalf("%d %s, want %d with code %d", r.status, r.raw, tt.status, tt.code)
			}
			if n := len(c.srv.CRMRecords("contact", "")); n != 0 {
				t.Fatalf("a refused create made %d records", n)
			}
			if st := c.srv.CRMStats(); st.Codes[strconv.Itoa(tt.code)] != 1 {
				t.Fatalf("codes %v", st.Codes)
			}
		})
	}
}

func TestCRMFaultsOverTheControlAPI(t *testing.T) {
	c := startCRM(t, nil)
	c.setFaults(`{"latency":"1ms"}`)
	c.setFaults(`{"crm":{"drop_creates":2,"shuffle_pages":true}}`)
	c.setFaults(`{"crm":{"rate_limit_next":1}}`)
	resp, err := c.client.Get(c.url + "/_sim/faults")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var f Faults
	if err := json.NewDecoder(resp.Body).Decode(&f); err != nil {
		t.Fatal(err)
	}
	if f.Latency != Duration(time.Millisecond) || f.CRM.DropCreates != 2 || !f.CRM.ShufflePages || f.CRM.RateLimitNext != 1 {
		t.Fatalf("faults %+v: later changes must keep earlier fields", f)
	}
	if err := c.srv.SetFaults(Faults{CRM: CRMFaults{HangBulk: -1}}); err == nil {
		t.Fatal("a negative hang_bulk was taken")
	}
}
