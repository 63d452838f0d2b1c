package attemptlog

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A failed chain says how many children it stranded: the children of its
// record at its partner still parked or dead-lettered for their parent,
// not one that was released and delivered, one at another partner, or one
// that was over before the chain began; and the same through the shipped
// query.
func TestFailedChainsCountStranded(t *testing.T) {
	conn, db := schemaConn(t)
	ctx := context.Background()
	const parentErr = "parent main/x was dead-lettered (event P)"
	rows := []Row{
		partnerRow("crm", "P", "main", "x", "retry_scheduled", 1, 503, "503", 30*time.Minute),
		partnerRow("crm", "P", "main", "x", "dead", 2, 422, "422 rejected", 20*time.Minute),
		partnerRow("crm", "C1", "sub", "c1", "parked", 0, 0, "parent main/x not at the partner yet", 25*time.Minute, "main", "x"),
		partnerRow("crm", "C2", "sub", "c2", "parked", 0, 0, "parent main/x not at the partner yet", 24*time.Minute, "main", "x"),
		partnerRow("crm", "C2", "sub", "c2", "dead", 0, 0, parentErr, 19*time.Minute, "main", "x"),
		partnerRow("crm", "C3", "sub", "c3", "parked", 0, 0, "", 28*time.Minute, "main", "x"),
		partnerRow("crm", "C3", "sub", "c3", "released", 0, 0, "", 27*time.Minute, "main", "x"),
		partnerRow("crm", "C3", "sub", "c3", "delivered", 1, 200, "", 26*time.Minute, "main", "x"),
		partnerRow("erp", "C4", "sub", "c4", "parked", 0, 0, "", 25*time.Minute, "main", "x"),
		partnerRow("crm", "C5", "sub", "c5", "parked", 0, 0, "", 50*time.Minute, "main", "x"),
		partnerRow("crm", "C5", "sub", "c5", "dead", 0, 0, "parent main/x was dead-lettered (event O)", 45*time.Minute, "main", "x"),
	}
	if err := Insert(ctx, conn, db, rows); err != nil {
		t.Fatal(err)
	}
	chains, _, err := Chains(ctx, conn, db, ChainFilter{Since: time.Now().Add(-time.Hour), Stuck: 5 * time.Minute, Partner: "crm"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, c := range chains {
		got[c.ChainID] = c.Stranded
	}
	if p, ok := got["P"]; !ok || p != 2 {
		t.Fatalf("chain P stranded %d children (listed %v), want 2 (C1 waiting, C2 dead for it)", p, ok)
	}
	if got["C1"] != 0 || got["C2"] != 0 {
		t.Fatalf("children strand nobody: %v", got)
	}
	ans, err := RunQuery(ctx, conn, db, "failed_chains", map[string]any{"partner": "crm"})
	if err != nil {
		t.Fatal(err)
	}
	col := -1
	for i, c := range ans.Columns {
		if c == "stranded" {
			col = i
		}
	}
	if col < 0 {
		t.Fatalf("sql/failed_chains.sql has no stranded column: %v", ans.Columns)
	}
	for _, r := range ans.Rows {
		if fmt.Sprint(r[1]) == "P" && fmt.Sprint(r[col]) != "2" {
			t.Fatalf("the shipped query says P stranded %v", r[col])
		}
	}
}

// The most recent candidates of chain_ends may be rows their chains have
// moved on from (a dead chain replayed and delivered, the two rows not yet
// merged); they do not crowd out older chains that did fail.
func TestFailedChainsPageNotCrowdedOut(t *testing.T) {
	conn, db := schemaConn(t)
	ctx := context.Background()
	// Keep chain_ends' rows apart, as they are between merges.
	if err := conn.Exec(ctx, "SYSTEM STOP MERGES `"+db+"`.`"+ChainEndsTable+"`"); err != nil {
		t.Fatal(err)
	}
	var died, delivered []Row
	for i := range MaxChains + 1 {
		id := fmt.Sprint("moved-", i)
		died = append(died, partnerRow("crm", id, "main", id, "dead", 1, 422, "422", 10*time.Minute))
		delivered = append(delivered, partnerRow("crm", id, "main", id, "delivered", 2, 200, "", 5*time.Minute))
	}
	died = append(died, partnerRow("crm", "old-dead", "main", "o", "dead", 1, 422, "422", 20*time.Minute))
	for _, rows := range [][]Row{died, delivered} {
		if err := Insert(ctx, conn, db, rows); err != nil {
			t.Fatal(err)
		}
	}
	if n := countRows(t, conn, db, ChainEndsTable); n != 2*(MaxChains+1)+1 {
		t.Fatalf("chain_ends holds %d rows, want every chain's two apart", n)
	}
	chains, truncated, err := Chains(ctx, conn, db, ChainFilter{Since: time.Now().Add(-time.Hour), Stuck: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(chains) != 1 || chains[0].ChainID != "old-dead" || truncated {
		t.Fatalf("failed chains %v (truncated %v), want old-dead alone", ids(chains), truncated)
	}
}

// A child still parked counts as stranded whenever it parked, before the
// parent's first step too (the child posted first, the parent then stuck at
// a partner outage); a child dead-lettered for another event of the record
// (its error names it) does not, one whose error names no event does when it
// died after the parent's first step; the list and the family agree.
func TestStrandedParkedBeforeParent(t *testing.T) {
	conn, db := schemaConn(t)
	ctx := context.Background()
	const waiting = "parent main/x not at the partner yet"
	rows := []Row{
		partnerRow("crm", "P", "main", "x", "retry_scheduled", 1, 503, "503", 30*time.Minute),
		partnerRow("crm", "E1", "sub", "e1", "parked", 0, 0, waiting, 40*time.Minute, "main", "x"),
		partnerRow("crm", "E4", "sub", "e4", "parked", 0, 0, waiting, 45*time.Minute, "main", "x"),
		partnerRow("crm", "E2", "sub", "e2", "parked", 0, 0, waiting, 48*time.Minute, "main", "x"),
		partnerRow("crm", "E2", "sub", "e2", "dead", 0, 0, "parent main/x was dead-lettered (event O)", 25*time.Minute, "main", "x"),
		partnerRow("crm", "E3", "sub", "e3", "dead", 0, 0, "parent main/x not seen within 1h0m0s", 25*time.Minute, "main", "x"),
	}
	if err := Insert(ctx, conn, db, rows); err != nil {
		t.Fatal(err)
	}
	chains, _, err := Chains(ctx, conn, db, ChainFilter{Since: time.Now().Add(-time.Hour), Stuck: 5 * time.Minute, Partner: "crm"})
	if err != nil {
		t.Fatal(err)
	}
	listed := -1
	for _, c := range chains {
		if c.ChainID == "P" {
			listed = c.Stranded
		}
	}
	if listed != 3 {
		t.Fatalf("the list says P stranded %d, want 3 (E1 and E4 parked before it began, E3 dead after)", listed)
	}
	fams, err := FindFamily(ctx, conn, db, "P", "crm")
	if err != nil || len(fams) != 1 {
		t.Fatalf("families of P: %d (%v)", len(fams), err)
	}
	var kids []string
	for _, c := range fams[0].Children {
		kids = append(kids, c.ChainID)
	}
	if got := strings.Join(kids, " "); got != "E4 E1 E3" {
		t.Fatalf("children %q, want E4 E1 E3", got)
	}
	if fams[0].Parent.Stranded != listed {
		t.Fatalf("the family says P stranded %d, the list %d", fams[0].Parent.Stranded, listed)
	}
}
