package pipeline

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/sinks/partner"
)

// padAnswers puts a proxy in front of the partner that makes every record
// answer long: an error's JSON gets 6 KB of "detail" before its own fields
// (so its "error" code stands after the first 4 KB), a success's body 3 MiB
// of padding.
func padAnswers(t *testing.T) func(*partner.Config) {
	return func(c *partner.Config) {
		target, err := url.Parse(c.BaseURL)
		if err != nil {
			t.Fatal(err)
		}
		proxy := httputil.NewSingleHostReverseProxy(target)
		proxy.ModifyResponse = func(resp *http.Response) error {
			if !strings.HasPrefix(resp.Request.URL.Path, "/v1/") {
				return nil
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			_ = resp.Body.Close()
			var padded []byte
			if resp.StatusCode >= 400 {
				var fields map[string]any
				if err := json.Unmarshal(body, &fields); err != nil {
					return err
				}
				b, _ := json.Marshal(fields)
				padded = append([]byte(`{"detail":"`+strings.Repeat("d", 6000)+`",`), b[1:]...)
			} else {
				padded = append(body, bytes.Repeat([]byte(" "), 3<<20)...)
			}
			resp.Body = io.NopCloser(bytes.NewReader(padded))
			resp.ContentLength = int64(len(padded))
			resp.Header.Set("Content-Length", strconv.Itoa(len(padded)))
			return nil
		}
		hs := httptest.NewServer(proxy)
		t.Cleanup(hs.Close)
		c.BaseURL = hs.URL
	}
}

// A partner's answer is judged on what it says, however long it is: a 409
// stale_version whose code follows 6 KB of detail is skipped as stale (it was
// dead-lettered rejected when only the first 4 KB were parsed), a 201 with
// a 3 MiB body is delivered, and a long 422 is dead-lettered with a short
// dead_error.
func TestLongAnswersAreRead(t *testing.T) {
	h := newHarness(t, options{sink: padAnswers(t)})
	h.faults(partnersim.Faults{RejectPrefix: "bad-"})
	if _, err := h.sim.Seed(partnersim.SeedSpec{Records: []partnersim.RecordState{
		{Entity: "reg", Key: "old", Account: "acc", Version: 5, Data: json.RawMessage(`{"v":5}`)},
	}}); err != nil {
		t.Fatal(err)
	}
	h.upsert("stale", "acc", "reg", "old", 3, `{"v":3}`)
	h.upsert("new", "acc", "reg", "new", 1, `{"v":1}`)
	h.upsert("rejected", "acc", "reg", "bad-1", 1, `{"v":1}`)
	by := h.waitTerminal([]string{"stale", "new", "rejected"}, 15*time.Second)
	for id, want := range map[string]string{"stale": "skipped_stale", "new": "delivered", "rejected": "dead"} {
		if s := by[id]; s[len(s)-1] != want {
			t.Fatalf("%s: steps %v, want %s; dead letters %+v", id, s, want, h.dead())
		}
	}
	dead := h.dead()
	if len(dead) != 1 || dead[0].EventID != "rejected" || dead[0].Reason != "rejected" {
		t.Fatalf("dead letters %+v, want only the 422", dead)
	}
	if e := dead[0].Error; !strings.HasPrefix(e, "422 Unprocessable Entity: ") || len(e) > 300 {
		t.Fatalf("dead_error %q: want the status and a clipped start of the answer", e)
	}
	if r := h.sim.Snapshot("").Records; len(r) != 2 || r[0].Key != "new" || r[1].Key != "old" || r[1].Version != 5 {
		t.Fatalf("partner records %+v", r)
	}
}
