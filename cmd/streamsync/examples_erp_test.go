package main

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// erpOpen is an in-test ERP "open platform", strict: every call carries
// app_key, timestamp (unix ms, within 5 minutes) and sign =
// upper(hex(md5(secret + sorted query without sign + body + secret))) in
// the query; save upserts by code (refusing an older modifyTime, and an
// order whose customerCode it does not have), delete removes by code, list
// pages by pageNo/pageSize (at most 50) and filters by code; every answer
// is 200 {"success", "errorCode", "errorMsg", "data"}.
type erpOpen struct {
	appKey, secret string

	mu      sync.Mutex
	records map[string]map[string]map[string]any // entity → code → record
	calls   int
}

func erpAnswer(w http.ResponseWriter, code, msg string, data any) {
	w.Header().Set("Content-Type", "application/json")
	out := map[string]any{"success": code == "", "errorCode": code, "errorMsg": msg}
	if data != nil {
		out["data"] = data
	}
	_ = json.NewEncoder(w).Encode(out)
}

// rfc3986 encodes s as RFC 3986 wants a query component.
func rfc3986(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func (e *erpOpen) signOK(r *http.Request, body []byte) bool {
	q := r.URL.Query()
	sign := q.Get("sign")
	q.Del("sign")
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		for _, v := range q[k] {
			parts = append(parts, rfc3986(k)+"="+rfc3986(v))
		}
	}
	sum := md5.Sum([]byte(e.secret + strings.Join(parts, "&") + string(body) + e.secret))
	return sign == strings.ToUpper(hex.EncodeToString(sum[:]))
}

func (e *erpOpen) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	q := r.URL.Query()
	if q.Get("app_key") != e.appKey {
		erpAnswer(w, "APP_KEY_INVALID", "unknown app_key", nil)
		return
	}
	ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	if err != nil || time.Since(time.UnixMilli(ts)).Abs() > 5*time.Minute {
		erpAnswer(w, "SIGN_ERROR", "timestamp missing or off", nil)
		return
	}
	if !e.signOK(r, body) {
		erpAnswer(w, "SIGN_ERROR", "sign mismatch", nil)
		return
	}
	rest, _ := strings.CutPrefix(r.URL.Path, "/open/v1/")
	entity, action, _ := strings.Cut(rest, "/")
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls++
	recs := e.records[entity]
	if recs == nil {
		recs = map[string]map[string]any{}
		e.records[entity] = recs
	}
	var in map[string]any
	if r.Method == http.MethodPost {
		if err := json.Unmarshal(body, &in); err != nil || in == nil {
			erpAnswer(w, "PARAM_ERROR", "body must be a JSON object", nil)
			return
		}
	}
	switch {
	case r.Method == http.MethodPost && action == "save":
		code, _ := in["code"].(string)
		org, _ := in["orgCode"].(string)
		mt, _ := in["modifyTime"].(string)
		t, err := time.Parse(time.RFC3339, mt)
		if code == "" || org == "" || err != nil {
			erpAnswer(w, "PARAM_ERROR", "code, orgCode and an RFC 3339 modifyTime are required", nil)
			return
		}
		if entity == "sales_order" {
			if c, _ := in["customerCode"].(string); e.records["customer"][c] == nil {
				erpAnswer(w, "PARENT_NOT_FOUND", "customer "+c+" does not exist", nil)
				return
			}
		}
		if old := recs[code]; old != nil {
			ot, _ := time.Parse(time.RFC3339, old["modifyTime"].(string))
			if t.Before(ot) {
				erpAnswer(w, "STALE", "modifyTime is older than the record's", nil)
				return
			}
		}
		in["status"] = "ENABLED"
		recs[code] = in
		erpAnswer(w, "", "", map[string]any{"code": code})
	case r.Method == http.MethodPost && action == "delete":
		code, _ := in["code"].(string)
		if recs[code] == nil {
			erpAnswer(w, "NOT_FOUND", "no such code", nil)
			return
		}
		delete(recs, code)
		erpAnswer(w, "", "", nil)
	case r.Method == http.MethodGet && action == "list":
		if c := q.Get("code"); c != "" {
			list := []any{}
			if rec := recs[c]; rec != nil {
				list = append(list, rec)
			}
			erpAnswer(w, "", "", map[string]any{"total": len(list), "list": list})
			return
		}
		page, err1 := strconv.Atoi(q.Get("pageNo"))
		size, err2 := strconv.Atoi(q.Get("pageSize"))
		if err1 != nil || err2 != nil || page < 1 || size < 1 || size > 50 {
			erpAnswer(w, "PARAM_ERROR", "pageNo from 1, pageSize 1 to 50", nil)
			return
		}
		codes := make([]string, 0, len(recs))
		for c := range recs {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		list := []any{}
		for i := (page - 1) * size; i < len(codes) && i < page*size; i++ {
			list = append(list, recs[codes[i]])
		}
		erpAnswer(w, "", "", map[string]any{"total": len(codes), "list": list})
	default:
		erpAnswer(w, "NOT_SUPPORTED", r.Method+" "+r.URL.Path, nil)
	}
}

// TestExampleERPSigned: examples/partners/erp-signed.yaml against an ERP of
// that shape: every call MD5-signed in the query, customers and orders
// saved by our code with modifyTime our version, an order held until its
// customer is there, a delete by code, and more records than one page; a
// clean reconcile through page-numbered reads, a preview.
func TestExampleERPSigned(t *testing.T) {
	const secret = "erp-open-secret-0123456"
	erp := &erpOpen{appKey: "streamsync", secret: secret, records: map[string]map[string]map[string]any{}}
	hs := httptest.NewServer(erp)
	t.Cleanup(hs.Close)
	const v0 = int64(1767323045000) // versions are whole seconds: modifyTime keeps seconds
	var events []ev
	ours := map[string][]ourRecord{}
	// the order first, in its own account: it waits for its customer
	events = append(events, ev{ID: "o1", Account: "org-1", Entity: "sales_order", Key: "SO-001", Op: "upsert", Version: v0 + 5000,
		Data: `{"amount":99.9,"currency":"CNY"}`, ParentEntity: "customer", ParentKey: "CUS-000"})
	ours["sales_order"] = append(ours["sales_order"], ourRecord{"SO-001", "org-1", v0 + 5000, `{"amount":99.9,"currency":"CNY"}`})
	for i := range 60 { // more than a page of 50
		code := "CUS-" + strconv.Itoa(1000 + i)[1:]
		data := `{"name":"customer ` + strconv.Itoa(i) + `","creditLimit":` + strconv.Itoa(i*10) + `.50}`
		events = append(events, ev{ID: "c" + strconv.Itoa(i), Account: "org-" + strconv.Itoa(2+i%3), Entity: "customer", Key: code, Op: "upsert", Version: v0, Data: data})
		ours["customer"] = append(ours["customer"], ourRecord{code, "org-" + strconv.Itoa(2+i%3), v0, data})
	}
	events = append(events,
		ev{ID: "o2", Account: "org-2", Entity: "sales_order", Key: "SO-002", Op: "upsert", Version: v0 + 6000, Data: `{"amount":5,"currency":"CNY"}`, ParentEntity: "customer", ParentKey: "CUS-003"},
		ev{ID: "o3", Account: "org-2", Entity: "sales_order", Key: "SO-002", Op: "delete", Version: v0 + 7000},
		ev{ID: "o4", Account: "org-3", Entity: "sales_order", Key: "SO-009", Op: "delete", Version: v0 + 7000}, // never sent: NOT_FOUND is done
	)
	secrets := map[string]string{"ERP_SECRET": secret}
	_, _, env := runExample(t, exampleRun{profile: "erp-signed.yaml", baseURL: hs.URL, secrets: secrets, events: events})

	erp.mu.Lock()
	so := erp.records["sales_order"]["SO-001"]
	nCustomers, nOrders := len(erp.records["customer"]), len(erp.records["sales_order"])
	erp.mu.Unlock()
	if so == nil || so["customerCode"] != "CUS-000" || so["modifyTime"] != "2026-01-02T03:04:10Z" {
		t.Errorf("SO-001 at the ERP: %v, want it under CUS-000 at modifyTime 2026-01-02T03:04:10Z", so)
	}
	if nCustomers != 60 || nOrders != 1 {
		t.Errorf("the ERP has %d customers and %d orders, want 60 and 1", nCustomers, nOrders)
	}
	reconcileClean(t, env, ours)
	previewShows(t, env, events[:1], secrets, "POST "+hs.URL+"/open/v1/sales_order/save?app_key=streamsync&timestamp=", "&sign=",
		`"customerCode": "CUS-000"`, `"modifyTime": "2026-01-02T03:04:10Z"`)
}
