package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/ingest"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
)

// `streamsync run` takes its ingest settings: producers' tokens from
// STREAMSYNC_INGEST__TOKENS, ingest.max_events, and sink.partner_name as a
// refused origin (docs/security.md, "Ingest").
func TestRunIngestSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Redis")
	}
	rdb, keys, env := streams(t, "ingestauth")
	sim, err := partnersim.New(partnersim.Options{ClientID: "id", ClientSecret: "sec"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	defer hs.Close()
	addr := freeAddr(t)
	env = append(env, "STREAMSYNC_SINK__BASE_URL="+hs.URL, "STREAMSYNC_SINK__CLIENT_ID=id", "STREAMSYNC_SINK__CLIENT_SECRET=sec",
		"STREAMSYNC_SINK__PARTNER_NAME=acme", "STREAMSYNC_CLICKHOUSE__ADDR=", "STREAMSYNC_INGEST__ADDR="+addr,
		"STREAMSYNC_INGEST__TOKENS=crm:s3cret-crm,billing:an0ther", "STREAMSYNC_INGEST__MAX_EVENTS=2")
	p := startProcess(t, env)
	t.Cleanup(p.kill)
	url := "http://" + addr + "/v1/events"
	ev := func(id, extra string) string {
		return `{"id":"` + id + `","account":"a","entity":"order","key":"k-` + id + `","op":"upsert","version":1,"data":{}` + extra + `}`
	}
	post := func(token, body string) int {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	testenv.WaitFor(t, 20*time.Second, "the ingest to answer", func() bool { return post("", ev("x", "")) == http.StatusUnauthorized })
	for _, tt := range []struct {
		name, token, body string
		want              int
	}{
		{"no token", "", ev("e0", ""), 401},
		{"a wrong token", "s3cret", ev("e0", ""), 401},
		{"crm's token", "s3cret-crm", ev("e1", ""), 202},
		{"billing's token", "an0ther", "[" + ev("e2", "") + "," + ev("e3", "") + "]", 202},
		{"more than ingest.max_events", "s3cret-crm", "[" + ev("e4", "") + "," + ev("e5", "") + "," + ev("e6", "") + "]", 413},
		{"the partner's name as origin", "s3cret-crm", ev("e7", `,"origin":"acme"`), 400},
	} {
		if got := post(tt.token, tt.body); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
	xs, err := rdb.XRange(context.Background(), keys.Events, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range xs {
		got = append(got, x.Values["id"].(string)+"/"+x.Values[ingest.ProducerField].(string))
	}
	if strings.Join(got, " ") != "e1/crm e2/billing e3/billing" {
		t.Fatalf("events stream %v, want e1 from crm, e2 and e3 from billing", got)
	}
}
