package attemptlog

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A chain's family: the parent named by its id alone, the children of its
// record at the same partner that waited on it or died for it, and every
// step of theirs on one timeline in time order, a copied row once; a child
// that never waited, one at another partner and one over before the parent
// began are not of it.
func TestFindFamily(t *testing.T) {
	conn, db := schemaConn(t)
	ctx := context.Background()
	pDead := partnerRow("crm", "P", "main", "x", "dead", 2, 422, "422 rejected", 20*time.Minute)
	rows := []Row{
		partnerRow("crm", "P", "main", "x", "retry_scheduled", 1, 503, "503", 30*time.Minute),
		pDead, pDead,
		partnerRow("erp", "P", "main", "x", "delivered", 1, 200, "", 29*time.Minute),
		partnerRow("crm", "C1", "sub", "c1", "parked", 0, 0, "parent main/x not at the partner yet", 25*time.Minute, "main", "x"),
		partnerRow("crm", "C2", "sub", "c2", "dead", 0, 0, "parent main/x was dead-lettered (event P)", 19*time.Minute, "main", "x"),
		partnerRow("crm", "C3", "sub", "c3", "parked", 0, 0, "", 28*time.Minute, "main", "x"),
		partnerRow("crm", "C3", "sub", "c3", "delivered", 1, 200, "", 27*time.Minute, "main", "x"),
		partnerRow("crm", "C6", "sub", "c6", "delivered", 1, 200, "", 26*time.Minute, "main", "x"),
		partnerRow("erp", "C4", "sub", "c4", "parked", 0, 0, "", 25*time.Minute, "main", "y"),
		partnerRow("crm", "C5", "sub", "c5", "parked", 0, 0, "", 50*time.Minute, "main", "x"),
		partnerRow("crm", "C5", "sub", "c5", "dead", 0, 0, "parent main/x was dead-lettered (event O)", 45*time.Minute, "main", "x"),
	}
	if err := Insert(ctx, conn, db, rows); err != nil {
		t.Fatal(err)
	}
	fams, err := FindFamily(ctx, conn, db, "P", "crm")
	if err != nil {
		t.Fatal(err)
	}
	if len(fams) != 1 {
		t.Fatalf("%d families of P at crm, want 1", len(fams))
	}
	f := fams[0]
	if f.Parent.ChainID != "P" || f.Parent.LastStep != "dead" || len(f.Parent.Steps) != 2 || f.Truncated {
		t.Fatalf("parent %+v (truncated %v)", f.Parent, f.Truncated)
	}
	var kids []string
	for _, c := range f.Children {
		kids = append(kids, c.ChainID)
	}
	if got := strings.Join(kids, " "); got != "C3 C1 C2" {
		t.Fatalf("children %q, want C3 C1 C2 (oldest first)", got)
	}
	if f.Parent.Stranded != 2 {
		t.Fatalf("parent stranded %d, want 2 (C1 parked, C2 dead for it), as the failed-chains list counts", f.Parent.Stranded)
	}
	var line []string
	for i, s := range f.Timeline {
		line = append(line, s.Role+":"+s.ChainID+":"+s.Step.Step)
		if i > 0 && s.TS.Before(f.Timeline[i-1].TS) {
			t.Fatalf("timeline out of order at %d: %v", i, line)
		}
	}
	want := "parent:P:retry_scheduled child:C3:parked child:C3:delivered child:C1:parked parent:P:dead child:C2:dead"
	if got := strings.Join(line, " "); got != want {
		t.Fatalf("timeline\n %s\nwant\n %s", got, want)
	}
	all, err := FindFamily(ctx, conn, db, "P", "")
	if err != nil || len(all) != 2 || all[1].Partner != "erp" || len(all[1].Children) != 0 {
		t.Fatalf("P at every partner: %d families (%v)", len(all), err)
	}
	none, err := FindFamily(ctx, conn, db, "nope", "")
	if err != nil || len(none) != 0 {
		t.Fatalf("an unknown chain: %v %v", none, err)
	}
}
