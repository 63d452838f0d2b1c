package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/streamsync/streamsync/internal/browsertest"
	"github.com/streamsync/streamsync/internal/testenv"
)

// A conflict of a two-way partner whose policy is manual, settled from the
// console in chromium: its dead letter shows both states and the buttons
// Keep ours / Keep theirs; Keep theirs writes the partner's record to our
// system, and the dead letter is gone.
func TestConsoleSettlesConflictInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Redis and chromium")
	}
	admin := freeAddr(t)
	const token = "s3cret-token"
	s := newTwoWay(t, "manual", "STREAMSYNC_ADMIN__ADDR="+admin, "STREAMSYNC_ADMIN__TOKEN="+token)
	s.conflict(t, 0)
	dead := waitConflictDead(t, s)
	base := "http://" + admin
	testenv.WaitFor(t, 20*time.Second, "streamsync ready", func() bool { return httpStatus(base+"/readyz") == 200 })

	b := browsertest.New(t)
	shots := browsertest.ScreenshotDir(t)
	row := `#dead-rows tr[data-id="` + dead + `"]`
	b.Do(t, "sign in", chromedp.Navigate(base+"/#dead"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS(row+` button.take[data-take="theirs"]`)))
	text := b.Text(t, row)
	for _, want := range []string{"conflict", `ours version`, `{"name":"B"}`, `theirs version`, `{"name":"C"}`, "Keep ours", "Keep theirs"} {
		if !strings.Contains(text, want) {
			t.Errorf("the conflict's row %q does not show %q", text, want)
		}
	}
	b.Screenshot(t, shots, "dead-conflict")
	b.Do(t, "keep theirs", chromedp.Click(chromedp.CSS(row+` button.take[data-take="theirs"]`)),
		chromedp.WaitVisible(chromedp.CSS("#modal-ok")), chromedp.Click(chromedp.CSS("#modal-ok")),
		chromedp.WaitNotPresent(chromedp.CSS(row)))
	if msg := b.Text(t, "#msg"); !strings.Contains(msg, "settled 1 with theirs") {
		t.Errorf("message %q", msg)
	}
	b.NoErrors(t, "dead letters")
	testenv.WaitFor(t, 30*time.Second, "the partner's record in our system", func() bool {
		return string(records(s.ours)["contact/r-1"].Data) == `{"name":"C"}` && string(records(s.them)["contact/r-1"].Data) == `{"name":"C"}`
	})
	for _, k := range [][2]string{{s.erp.Dead, "out"}, {s.erp.Inbound().Dead, "in"}} {
		if n, _ := s.rdb.XLen(t.Context(), k[0]).Result(); n != 0 {
			t.Errorf("%d dead letters left (%s)", n, k[1])
		}
	}
}
