package sql

import (
	"strings"
	"testing"
)

func TestEveryQueryParameterized(t *testing.T) {
	known := map[string]string{"since": "(now() - 3600)", "stuck_seconds": "300", "account": "''", "partner": "''"}
	for _, n := range Names() {
		q, params, err := Parameterized(n, "db", nil)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if strings.Contains(q, "/*@") || strings.Contains(q, "streamsync.attempts") || strings.Contains(q, "streamsync.dead_letters") {
			t.Errorf("%s: a marker or the default database is left:\n%s", n, q)
		}
		if len(params) == 0 || params[0].Name != "since" {
			t.Errorf("%s: takes %v, want since first", n, params)
		}
		for _, p := range params {
			if strings.HasPrefix(p.Name, "candidate_") && strings.HasPrefix(p.Default, "(SELECT ") {
				continue // a set streamsync narrows (sinks/attemptlog, candidates.go)
			}
			if p.Name == "sealed_until" && p.Default == "(toDateTime(0, 'UTC'))" {
				continue // bound by streamsync to the minutes its sealer answered (sinks/attemptlog, sealeduntil.go)
			}
			if def, ok := known[p.Name]; !ok || def != p.Default {
				t.Errorf("%s: @%s defaults to %q; the CLI knows since (%s), stuck_seconds (%s), account (%s), partner (%s)", n, p.Name, p.Default,
					known["since"], known["stuck_seconds"], known["account"], known["partner"])
			}
		}
	}
}

func TestParameterizedBindsOnlyWhatIsGiven(t *testing.T) {
	q, _, err := Parameterized("failed_chains", "db", func(p string) bool { return p == "account" })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(q, "(@account = '' OR account = @account)") || strings.Contains(q, ">= @since") || !strings.Contains(q, "(now() - 3600)/*@since*/") {
		t.Fatalf("account bound, since left at its default:\n%s", q)
	}
}

func TestParameterizedBindsASubqueryWhole(t *testing.T) {
	q, _, err := Parameterized("failed_chains", "db", func(p string) bool { return p == "candidate_chains" || p == "since" })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(q, "chain_id IN @candidate_chains") {
		t.Fatalf("candidate_chains not bound whole:\n%s", q)
	}
	if !strings.Contains(q, "account IN (SELECT account FROM `db`.chain_waits\n            WHERE last_ts >= @since") {
		t.Fatalf("since not bound inside the candidate_accounts subquery left at its default:\n%s", q)
	}
}

func TestDefaultStart(t *testing.T) {
	tests := []struct {
		name, q string
		want    string // the default; "" for an error
	}{
		{"parenthesised", "ts >= (now() - (3600))/*@since*/", "(now() - (3600))"},
		{"string", "x = 'a''b'/*@account*/", "'b'"},
		{"empty string", "x = ''/*@account*/", "''"},
		{"number", "now() - 300/*@stuck_seconds*/", "300"},
		{"nothing", "ts >= /*@since*/", ""},
		{"unbalanced", "ts >= now() - 1)/*@since*/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			end := strings.Index(tt.q, "/*@")
			start, err := defaultStart(tt.q, end)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("want an error, got default %q", tt.q[start:end])
				}
				return
			}
			if err != nil || tt.q[start:end] != tt.want {
				t.Fatalf("default %q, %v; want %q", tt.q[start:end], err, tt.want)
			}
		})
	}
}
