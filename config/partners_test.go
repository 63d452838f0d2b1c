package config

import (
	"strings"
	"testing"
	"time"
)

// partners.<name>.* load from the environment like any setting, with
// their defaults, and a misspelt one is named.
func TestPartnersFromTheEnvironment(t *testing.T) {
	c, err := Load(nil, []string{
		"STREAMSYNC_PARTNERS__ERP__BASE_URL=http://127.0.0.1:8082",
		"STREAMSYNC_PARTNERS__ERP__ROUTE__ENTITIES=contact,deal",
		"STREAMSYNC_PARTNERS__ERP__POLL__EVERY=2m",
		"STREAMSYNC_PARTNERS__ERP__CONFLICT__CONTACT=manual",
		"STREAMSYNC_PARTNERS__ERP__CLIENT_SECRET=hush",
	})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := c.Partners["erp"]
	if !ok {
		t.Fatalf("partners: %v", c.Partners)
	}
	if p.BaseURL != "http://127.0.0.1:8082" || strings.Join(p.Route.Entities, ",") != "contact,deal" || p.Poll.Every != 2*time.Minute {
		t.Errorf("erp: %+v", p)
	}
	if p.Timeout != 10*time.Second || p.Poll.Overlap != time.Minute || p.Webhooks.Scheme != "standard" || p.Webhooks.Tolerance != 5*time.Minute {
		t.Errorf("erp's defaults: %+v", p)
	}
	if p.ConflictPolicy("contact") != ConflictManual || p.ConflictPolicy("deal") != ConflictNewest {
		t.Errorf("conflict policies: contact %s, deal %s", p.ConflictPolicy("contact"), p.ConflictPolicy("deal"))
	}
	if !p.TwoWay() {
		t.Error("a partner that is polled is two-way")
	}
	if s := c.String(); strings.Contains(s, "hush") {
		t.Errorf("a partner's secret shows: %s", s)
	}
	if _, err := Load(nil, []string{"STREAMSYNC_PARTNERS__ERP__BASEURL=x"}); err == nil || !strings.Contains(err.Error(), "partners.erp.baseurl: unknown setting") {
		t.Errorf("a misspelt partner setting: %v", err)
	}
	if _, err := Load(nil, []string{"STREAMSYNC_PARTNERS__ERP__TIMEOUT=soon"}); err == nil || !strings.Contains(err.Error(), "partners.erp.timeout") {
		t.Errorf("a mistyped partner setting: %v", err)
	}
}

// Every partner setting that cannot work stops start-up naming it.
func TestPartnersValidated(t *testing.T) {
	base := func() Config {
		c, err := Load(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Sink.BaseURL = "http://127.0.0.1:8081"
		return c
	}
	good := PartnerConfig{SinkConfig: SinkConfig{BaseURL: "http://127.0.0.1:8082", Timeout: time.Second},
		Webhooks: WebhooksConfig{Scheme: "standard", Tolerance: 5 * time.Minute}}
	for _, tc := range []struct {
		name string
		edit func(c *Config, p *PartnerConfig)
		want string
	}{
		{"fine", func(*Config, *PartnerConfig) {}, ""},
		{"Bad Name", func(*Config, *PartnerConfig) {}, "partners.Bad Name: a partner's name must be"},
		{"partner", func(*Config, *PartnerConfig) {}, "is the name of the partner of sink.*"},
		{"reconcile", func(*Config, *PartnerConfig) {}, `"reconcile" is reserved`},
		{"no-url", func(_ *Config, p *PartnerConfig) { p.BaseURL = "" }, "partners.no-url.base_url"},
		{"policy", func(_ *Config, p *PartnerConfig) { p.Conflict = map[string]string{"contact": "mine"} }, "partners.policy.conflict.contact: must be ours, theirs, newest or manual"},
		{"hooks", func(_ *Config, p *PartnerConfig) { p.Webhooks.Secrets = []string{"whsec_abc"} }, "partners.hooks.webhooks: needs ingest.addr"},
		{"secret", func(c *Config, p *PartnerConfig) {
			c.Ingest.Addr = "127.0.0.1:8092"
			c.Ours.BaseURL = "http://127.0.0.1:8083"
			p.Webhooks.Secrets = []string{"abc"}
		}, "partners.secret.webhooks.secrets: entry 1 must be"},
		{"no-ours", func(c *Config, p *PartnerConfig) { p.Poll.Every = time.Minute }, "set ours.base_url"},
		{"route", func(_ *Config, p *PartnerConfig) { p.Route.Entities = []string{"Contacts"} }, "partners.route.route.entities"},
		{"http", func(_ *Config, p *PartnerConfig) { p.BaseURL = "http://partner.example.com" }, "partners.http.base_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, p := base(), good
			tc.edit(&c, &p)
			c.Partners = map[string]PartnerConfig{tc.name: p}
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want no error, got %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want an error with %q, got %v", tc.want, err)
			}
		})
	}
	// With partners, sink.* is optional.
	c := base()
	c.Sink.BaseURL = ""
	c.Partners = map[string]PartnerConfig{"erp": good}
	if err := c.Validate(); err != nil {
		t.Errorf("partners without sink.*: %v", err)
	}
}
