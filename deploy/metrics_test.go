package deploy

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v3"

	"github.com/streamsync/streamsync/deadarchive"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/outbox"
	"github.com/streamsync/streamsync/pipeline"
	"github.com/streamsync/streamsync/reconcile"
	"github.com/streamsync/streamsync/sinks/attemptlog"
	"github.com/streamsync/streamsync/sinks/partner"
)

// recorder is a prometheus.Registerer that keeps every metric name its
// collectors describe, and which of them are histograms (exposed as
// name_bucket, name_sum and name_count).
type recorder struct {
	names map[string]bool // name → histogram
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *recorder) Register(c prometheus.Collector) error {
	_, hist := c.(prometheus.Histogram)
	if _, ok := c.(*prometheus.HistogramVec); ok {
		hist = true
	}
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			return &descError{d.String()}
		}
		r.names[m[1]] = hist
	}
	return nil
}

type descError struct{ desc string }

func (e *descError) Error() string { return "no name in " + e.desc }

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *recorder) Unregister(prometheus.Collector) bool { return true }

// exported builds the components `streamsync run` registers on its /metrics
// registry (cmd/streamsync/run.go, reconcile.go, outbox.go, deadarchive.go) and returns the
// names they expose. Nothing connects: the Redis client is lazy and the
// PostgreSQL pool and ClickHouse connection are not needed to build them.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	rec := &recorder{names: map[string]bool{}}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = rdb.Close() })
	keys := layout.NewKeys("events", "g", "dead", "delayed", "retry")
	gauges, err := inspect.NewGauges(inspect.GaugesConfig{Keys: keys}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	rec.MustRegister(gauges)
	sink, err := partner.New(partner.Config{BaseURL: "http://127.0.0.1:1", Registerer: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	p, err := pipeline.New(pipeline.Config{Keys: keys, Consumer: "c", Instance: "c", PartnerName: "partner", Registerer: rec,
		Retry: handlers.RetryPolicy{Initial: time.Second, Max: time.Minute, MaxAttempts: 3}, MaxWait: time.Hour, LeaseTTL: time.Minute}, rdb,
		sink)
	if err != nil {
		t.Fatal(err)
	}
	_ = p
	if _, err := attemptlog.NewExporter(attemptlog.ExporterConfig{Stream: keys.Attempts, Consumer: "c", Database: "db",
		SpoolDir: t.TempDir(), Registerer: rec}, rdb, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := reconcile.NewScheduler(reconcile.ScheduleConfig{Every: time.Hour, LockKey: keys.ReconcileLock(),
		LastKey: keys.ReconcileLast(), Registerer: rec}, rdb, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := outbox.NewRelay(outbox.Config{Keys: keys, Instance: "c", Registerer: rec}, nil, rdb); err != nil {
		t.Fatal(err)
	}
	if _, err := deadarchive.New(deadarchive.Config{Shards: layout.Shards{keys}, MaxAge: time.Hour, LockKey: keys.DeadArchiveLock(),
		Registerer: rec}, rdb); err != nil {
		t.Fatal(err)
	}
	if _, err := attemptlog.NewRetainer(attemptlog.RetentionConfig{Database: "db", Retention: attemptlog.DefaultRetention,
		LockKey: keys.RetentionLock(), Registerer: rec}, rdb, nil); err != nil {
		t.Fatal(err)
	}
	return rec.names
}

var metricName = regexp.MustCompile(`streamsync_[a-z0-9_]+`)

// Every metric name in the dashboard and the alert rules is one streamsync
// exports; a histogram's name is used with _bucket, _sum or _count.
func TestDeployMetricNamesExist(t *testing.T) {
	names := exported(t)
	for _, want := range []string{"streamsync_lag", "streamsync_partner_breaker_state", "streamsync_attempts_backlog",
		"streamsync_reconcile_differences", "streamsync_outbox_lag_seconds", "streamsync_end_to_end_seconds"} {
		if _, ok := names[want]; !ok { // the recorder itself works
			t.Fatalf("%s not among the exported names %v", want, names)
		}
	}
	used := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range slices.Compact(slices.Sorted(slices.Values(metricName.FindAllString(string(b), -1)))) {
			used++
			if !exists(names, n) {
				t.Errorf("%s: %s is not a metric streamsync exports", path, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if used < 20 {
		t.Fatalf("only %d metric names found under deploy/", used)
	}
}

func exists(names map[string]bool, n string) bool {
	if _, ok := names[n]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(n, suffix); ok && names[base] {
			return true
		}
	}
	return false
}

// The alert rules file has Prometheus' shape: groups of rules, each with an
// alert name, an expression, a summary, and a `for` that is a duration.
func TestAlertRulesShape(t *testing.T) {
	b, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	if len(rules.Groups) == 0 {
		t.Fatal("alerts.yml: no groups")
	}
	seen := map[string]bool{}
	for _, g := range rules.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: a name and rules required", g.Name)
		}
		for _, r := range g.Rules {
			if r.Alert == "" || strings.TrimSpace(r.Expr) == "" || r.Annotations["summary"] == "" || r.Labels["severity"] == "" {
				t.Errorf("rule %q: alert, expr, labels.severity and annotations.summary required", r.Alert)
			}
			if seen[r.Alert] {
				t.Errorf("rule %q twice", r.Alert)
			}
			seen[r.Alert] = true
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("rule %q: for %q: %v", r.Alert, r.For, err)
				}
			}
			if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") {
				t.Errorf("rule %q: unbalanced parentheses in %q", r.Alert, r.Expr)
			}
		}
	}
	for _, want := range []string{"StreamsyncDeadLettersRising", "StreamsyncLagGrowing", "StreamsyncBreakerOpen",
		"StreamsyncPartnerAuthRefused", "StreamsyncReconcileDifferences", "StreamsyncReconcileNotSucceeding",
		"StreamsyncExportLagging", "StreamsyncAttemptsDropped"} {
		if !seen[want] {
			t.Errorf("alerts.yml has no %s", want)
		}
	}
}

// The dashboard is JSON Grafana loads: every panel but rows has a
// Prometheus query on the provisioned datasource.
func TestDashboardShape(t *testing.T) {
	b, err := os.ReadFile("grafana/dashboards/streamsync.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title      string `json:"title"`
			Type       string `json:"type"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if d.UID == "" || len(d.Panels) == 0 {
		t.Fatal("dashboard: uid and panels required")
	}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Datasource.UID != "prometheus" || len(p.Targets) == 0 {
			t.Errorf("panel %q: want targets on datasource uid prometheus", p.Title)
		}
		for _, q := range p.Targets {
			if !strings.Contains(q.Expr, "streamsync_") || strings.Count(q.Expr, "(") != strings.Count(q.Expr, ")") {
				t.Errorf("panel %q: query %q", p.Title, q.Expr)
			}
		}
	}
}
