package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
)

// TestReconcileExitStatus: 0 when the sides are equal, 1 when differences
// were found, 2 when the run could not be done; a file source with a bad
// line still reconciles.
func TestReconcileExitStatus(t *testing.T) {
	_, _, env := streams(t, "c1")
	_, db := testenv.ClickHouse(t)
	sim, err := partnersim.New(partnersim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	defer hs.Close()
	if _, err := sim.Seed(partnersim.SeedSpec{Entity: "reg", Count: 50, Accounts: 3, Version: 2}); err != nil {
		t.Fatal(err)
	}
	var dump strings.Builder
	for i := range 50 {
		fmt.Fprintf(&dump, `{"entity":"reg","key":%q,"account":"acc-%d","version":2,"data":%s}`+"\n", partnersim.SeedKey("", i), i%3, partnersim.SeedData(i))
		if i == 10 {
			dump.WriteString("{broken\n")
		}
	}
	file := filepath.Join(t.TempDir(), "dump.jsonl")
	if err := os.WriteFile(file, []byte(dump.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(env, "STREAMSYNC_SINK__BASE_URL="+hs.URL, "STREAMSYNC_CLICKHOUSE__ADDR="+testenv.ClickHouseAddr(t),
		"STREAMSYNC_CLICKHOUSE__DATABASE="+db, "STREAMSYNC_SOURCE__KIND=file", "STREAMSYNC_SOURCE__FILE="+file)

	out, err := cli(t, env, "reconcile", "--format", "json")
	if err != nil {
		t.Fatalf("equal sides: %v\n%s", err, out)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep["equal"] != 50.0 || rep["ours"] != 50.0 || rep["against"] != "source" {
		t.Fatalf("JSON summary %s (%v)", out, err)
	}

	if _, err := sim.Drift(partnersim.DriftSpec{Entity: "reg", Drop: 2, Alter: 1}); err != nil {
		t.Fatal(err)
	}
	out, err = cli(t, env, "reconcile")
	var ec interface{ ExitCode() int }
	if !errors.As(err, &ec) || ec.ExitCode() != 1 || !strings.Contains(out, "missing") || !strings.Contains(out, "first differences") {
		t.Fatalf("differences: err %v, output\n%s", err, out)
	}

	bad := append(env[:len(env):len(env)], "STREAMSYNC_CLICKHOUSE__ADDR=127.0.0.1:1")
	_, err = cli(t, bad, "reconcile")
	if !errors.As(err, &ec) || ec.ExitCode() != 2 {
		t.Fatalf("ClickHouse away: err %v, want exit status 2", err)
	}
	_, err = cli(t, env, "reconcile", "--against", "sideways")
	if err == nil || !strings.Contains(err.Error(), "--against") {
		t.Fatalf("bad --against: %v", err)
	}

	// No source, an empty ledger, no --entity: nothing compared, so not
	// equal; exit 2 telling what to give.
	noSource := append(env[:len(env):len(env)], "STREAMSYNC_SOURCE__KIND=none")
	out, err = cli(t, noSource, "reconcile", "--against", "ledger")
	if !errors.As(err, &ec) || ec.ExitCode() != 2 || !strings.Contains(err.Error(), "--entity") || strings.Contains(out, ": equal") {
		t.Fatalf("nothing compared: err %v, output\n%s", err, out)
	}
}
