package profile

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/delivery"
)

const erp = `name: erp
base_url: https://erp.example
defaults:
  upsert: {method: POST, path: /api/save}
  delete: {method: POST, path: /api/remove}
  answers:
    - when: {status: 2xx, body: '.code == 0'}
      then: delivered
    - when: {status: 2xx, body: '.code == 40001'}
      then: parent_missing
      detail: .msg
    - when: {status: 2xx, body: '.code == 42900'}
      then: transient
      wait: {body: .retry_in}
    - when: {status: 2xx, body: '.code != 0'}
      then: permanent
      detail: .msg
    - when: {status: 429, header: X-RateLimit-Reset}
      then: transient
      wait: {header: X-RateLimit-Reset}
entities:
  order:
    answers:
      - when: {status: "409"}
        then: stale
`

// Rules judge answers by status, header and body — failures inside a 200
// included — and the first that matches decides; an entity's own rules
// come first; an answer no rule matches is left to the built-in meaning.
func TestJudge(t *testing.T) {
	p, err := Parse([]byte(erp), "erp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name   string
		entity string
		status int
		h      http.Header
		body   string
		ok     bool
		class  delivery.Class
		wait   time.Duration
		detail string
	}{
		{"ok inside a 200", "contact", 200, nil, `{"code":0}`, true, delivery.Delivered, 0, "200"},
		{"parent missing inside a 200", "contact", 200, nil, `{"code":40001,"msg":"parent not found"}`, true, delivery.ParentMissing, 0, "200 parent not found"},
		{"failure inside a 200", "contact", 200, nil, `{"code":50003,"msg":"bad phone"}`, true, delivery.Permanent, 0, "200 bad phone"},
		{"wait from the body", "contact", 200, nil, `{"code":42900,"retry_in":7}`, true, delivery.Transient, 7 * time.Second, "200"},
		{"wait from a header in seconds", "contact", 429, hdr("X-RateLimit-Reset", "3"), ``, true, delivery.Transient, 3 * time.Second, "429"},
		{"wait from a header as a date", "contact", 429, hdr("X-RateLimit-Reset", now.Add(time.Minute).Format(http.TimeFormat)), ``, true, delivery.Transient, time.Minute, "429"},
		{"429 without the header: built-in", "contact", 429, nil, ``, false, 0, 0, ""},
		{"a body that is not JSON matches no body rule", "contact", 200, nil, `<html>`, false, 0, 0, ""},
		{"an entity's own rule", "order", 409, nil, `{}`, true, delivery.Stale, 0, "409"},
		{"the defaults after an entity's own", "order", 200, nil, `{"code":0}`, true, delivery.Delivered, 0, "200"},
		{"no rule for a 409 elsewhere", "contact", 409, nil, `{}`, false, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			if h == nil {
				h = http.Header{}
			}
			v, ok := p.Judge(tt.entity, tt.status, h, []byte(tt.body), now)
			if ok != tt.ok || v.Class != tt.class || v.Wait != tt.wait || v.Detail != tt.detail {
				t.Fatalf("Judge = %+v %v, want class %v wait %s detail %q ok %v", v, ok, tt.class, tt.wait, tt.detail, tt.ok)
			}
		})
	}
}

func TestRulesChecked(t *testing.T) {
	tests := []struct{ from, to, want string }{
		{"then: stale", "then: done", "profile erp: entities.order.answers[0].then (line 25): must be one of"},
		{`status: "409"`, `status: "49"`, "profile erp: entities.order.answers[0].when.status (line 24): must be a status"},
		{"wait: {body: .retry_in}", "wait: {body: .retry_in +}", "profile erp: defaults.answers[2].wait.body (line 14): jq:"},
		{"    - when: {status: \"409\"}", "    - when: {}", "profile erp: entities.order.answers[0].when (line 24): needs a status"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(strings.Replace(erp, tt.from, tt.to, 1)), "erp.yaml")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s → %s: %v, want %q", tt.from, tt.to, err, tt.want)
		}
	}
}

func TestWaitUnits(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tt := range []struct {
		unit, value string
		want        time.Duration
	}{
		{"", "7", 7 * time.Second},
		{"seconds", "1.5", 1500 * time.Millisecond},
		{"unix", "1800000030", 30 * time.Second},
		{"unix_ms", "1800000002500", 2500 * time.Millisecond},
		{"unix", "1799999990", 0}, // a reset in the past: no wait beyond the backoff
	} {
		y := "name: w\nbase_url: http://x\ndefaults:\n  answers:\n    - when: {status: \"429\"}\n      then: transient\n      wait: {header: X-RateLimit-Reset, unit: \"" + tt.unit + "\"}\n" +
			"  upsert: {method: PUT, path: \"/r/{key}\"}\n  delete: {method: DELETE, path: \"/r/{key}\"}\n"
		p, err := Parse([]byte(y), "w.yaml")
		if err != nil {
			t.Fatalf("unit %q: %v", tt.unit, err)
		}
		v, ok := p.Judge("x", 429, http.Header{"X-Ratelimit-Reset": {tt.value}}, nil, now)
		if !ok || v.Wait != tt.want {
			t.Errorf("unit %q value %s: wait %v (matched %v), want %v", tt.unit, tt.value, v.Wait, ok, tt.want)
		}
	}
	_, err := Parse([]byte("name: w\nbase_url: http://x\ndefaults:\n  answers:\n    - when: {status: \"429\"}\n      then: transient\n      wait: {header: X, unit: hours}\n"), "w.yaml")
	if err == nil || !strings.Contains(err.Error(), "wait.unit (line 7)") {
		t.Fatalf("a bad unit: %v", err)
	}
}

// A rule that names no status cannot turn an outage's answer into a dead
// letter; one that names the status can; a transient rule still applies.
func TestStatuslessRuleNeverDeadLettersARetriedStatus(t *testing.T) {
	p, err := Parse([]byte(`name: g
base_url: http://x
defaults:
  upsert: {method: PUT, path: "/r/{key}"}
  delete: {method: DELETE, path: "/r/{key}"}
  answers:
    - when: {body: '.code == 42900'}
      then: transient
    - when: {status: "502", body: '.code == 1'}
      then: permanent
    - when: {body: '.code != 0'}
      then: permanent
`), "g.yaml")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, ok := p.Judge("x", 503, nil, []byte(`{"code":50300}`), now); ok {
		t.Fatal("a statusless permanent rule judged a 503")
	}
	if v, ok := p.Judge("x", 200, nil, []byte(`{"code":40000}`), now); !ok || v.Class != delivery.Permanent {
		t.Fatalf("200 with a code: %+v %v", v, ok)
	}
	if v, ok := p.Judge("x", 429, nil, []byte(`{"code":42900}`), now); !ok || v.Class != delivery.Transient {
		t.Fatalf("429 by a transient rule: %+v %v", v, ok)
	}
	if v, ok := p.Judge("x", 502, nil, []byte(`{"code":1}`), now); !ok || v.Class != delivery.Permanent {
		t.Fatalf("a rule naming 502: %+v %v", v, ok)
	}
}
