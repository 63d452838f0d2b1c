package partnersim

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestCRMBatchUpsert(t *testing.T) {
	c := startCRM(t, nil)
	parent := c.create("company", "co-1", `{}`, "")
	existing := c.create("contact", "k-2", `{"name":"old","keep":true}`, "")
	items := []string{
		crmBody("k-1", "acc-1", `{"name":"new"}`, parent),
		crmBody("k-2", "acc-1", `{"name":"changed"}`, ""),
		crmBody("k-3", "acc-1", `{}`, "c_999999"),
		`{"owner":"acc-1","fields":{}}`,
		`{"external_id":"k-5","fields":[1]}`,
		crmBody("k-6", "acc-1", `{}`, ""),
	}
	r := c.call(http.MethodPost, "/crm/v2/contact/batch_upsert", `{"items":[`+strings.Join(items, ",")+`]}`, nil)
	if r.status != http.StatusOK || r.code() != 0 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	results, _ := r.data()["results"].([]any)
	want := []struct {
		ext  string
		code int
	}{{"k-1", 0}, {"k-2", 0}, {"k-3", CRMCodeParentNotFound}, {"", CRMCodeInvalid}, {"k-5", CRMCodeInvalid}, {"k-6", 0}}
	if len(results) != len(want) {
		t.Fatalf("results %s", r.raw)
	}
	for i, w := range want {
		res := results[i].(map[string]any)
		if res["external_id"] != w.ext || res["code"] != float64(w.code) || (w.code == 0) != (res["id"] != nil) || (w.code != 0) != (res["msg"] != nil) {
			t.Fatalf("result %d: %v, want external_id %q code %d (an id on success, a msg on failure)", i, res, w.ext, w.code)
		}
	}
	if results[1].(map[string]any)["id"] != existing {
		t.Fatalf("k-2 was not updated in place: %v", results[1])
	}
	got := c.srv.CRMRecords("contact", "k-2")
	if len(got) != 1 || string(got[0].Fields) != `{"keep":true,"name":"changed"}` {
		t.Fatalf("k-2 after the upsert: %+v (fields merge)", got)
	}
	if k1 := c.srv.CRMRecords("contact", "k-1"); len(k1) != 1 || k1[0].ParentID != parent {
		t.Fatalf("k-1: %+v", k1)
	}
	if n := len(c.srv.CRMRecords("contact", "")); n != 3 {
		t.Fatalf("%d contacts, want 3 (k-1, k-2, k-6)", n)
	}
	if st := c.srv.CRMStats(); st.Requests["POST /crm/v2/contact/batch_upsert"] != 1 {
		t.Fatalf("requests %v", st.Requests)
	}
}

// An archived record is not upserted: a new one is made beside it.
func TestCRMBatchUpsertArchived(t *testing.T) {
	c := startCRM(t, nil)
	old := c.create("contact", "k", `{}`, "")
	c.call(http.MethodDelete, "/crm/v2/contact/"+old, "", nil)
	r := c.call(http.MethodPost, "/crm/v2/contact/batch_upsert", `{"items":[`+crmBody("k", "a", `{}`, "")+`]}`, nil)
	res := r.data()["results"].([]any)[0].(map[string]any)
	if res["code"] != float64(0) || res["id"] == old {
		t.Fatalf("%s: want a new record beside the archived %s", r.raw, old)
	}
}

func TestCRMBatchUpsertRefusedWhole(t *testing.T) {
	c := startCRM(t, nil)
	var many []string
	for i := range 101 {
		many = append(many, crmBody(fmt.Sprintf("k-%d", i), "a", `{}`, ""))
	}
	for name, body := range map[string]string{
		"101 items":        `{"items":[` + strings.Join(many, ",") + `]}`,
		"not JSON":         `{"items":[`,
		"unknown field":    `{"records":[]}`,
		"items not a list": `{"items":{}}`,
	} {
		if r := c.call(http.MethodPost, "/crm/v2/contact/batch_upsert", body, nil); r.code() != CRMCodeInvalid {
			t.Errorf("%s: %s", name, r.raw)
		}
	}
	if n := len(c.srv.CRMRecords("contact", "")); n != 0 {
		t.Fatalf("refused batches made %d records", n)
	}
	if r := c.call(http.MethodPost, "/crm/v2/contact/batch_upsert", `{"items":[`+strings.Join(many[:100], ",")+`]}`, nil); r.code() != 0 || len(c.srv.CRMRecords("contact", "")) != 100 {
		t.Fatalf("100 items: %.200s", r.raw)
	}
}
