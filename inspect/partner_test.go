package inspect

import (
	"fmt"
	"testing"
	"time"
)

func TestPartnerStatesLeaveOutStaleEntries(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	m := map[string]string{
		"b":    fmt.Sprintf(`{"instance":"b","breaker":"open","auth_ok":false,"updated_at_ms":%d}`, now.Add(-time.Second).UnixMilli()),
		"a":    fmt.Sprintf(`{"instance":"a","breaker":"closed","auth_ok":true,"updated_at_ms":%d}`, now.UnixMilli()),
		"gone": fmt.Sprintf(`{"instance":"gone","updated_at_ms":%d}`, now.Add(-2*PartnerStateTTL).UnixMilli()),
		"junk": `{`,
	}
	got := partnerStates(m, now)
	if len(got) != 2 || got[0].Instance != "a" || got[1].Instance != "b" || got[1].AuthOK {
		t.Fatalf("%+v", got)
	}
}
