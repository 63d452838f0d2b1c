package ingest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
)

func TestJudgeCheckBack(t *testing.T) {
	pad := strings.Repeat("p", 100<<10)
	tests := []struct {
		name   string
		r      io.Reader
		status string
		detail string
	}{
		{"commit", strings.NewReader(`{"status":"commit"}`), CheckCommit, "check-back answered commit"},
		{"rollback after 100 KB", strings.NewReader(`{"detail":"` + pad + `","status":"rollback"}`), CheckRollback, "check-back answered rollback"},
		{"commit before 2 MiB", strings.NewReader(`{"status":"commit","detail":"` + strings.Repeat(pad, 20) + `"}`), CheckCommit, "check-back answered commit"},
		{"status after 2 MiB", strings.NewReader(`{"detail":"` + strings.Repeat(pad, 20) + `","status":"commit"}`), CheckUnknown,
			"check-back answer over 1024 KiB without a status in its first 1024 KiB"},
		{"cut short", io.MultiReader(strings.NewReader(`{"status":"commit"`), iotest.ErrReader(io.ErrUnexpectedEOF)), CheckUnknown,
			"check-back answer cut short after 18 bytes: unexpected EOF"},
		{"not JSON", strings.NewReader(`<html>commit</html>`), CheckUnknown, `check-back answer is not {"status":…}: "<html>commit</html>"`},
		{"odd status", strings.NewReader(`{"status":"maybe"}`), CheckUnknown, `check-back answered status "maybe"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, detail := judgeCheckBack(tt.r)
			if status != tt.status || detail != tt.detail {
				t.Fatalf("got %s %q, want %s %q", status, detail, tt.status, tt.detail)
			}
		})
	}
}

// A producer's check-back answer is judged on its status wherever it stands:
// {"detail":<100 KB>,"status":"commit"} was cut at 64 KiB, read as "not
// JSON", asked again and again, and the event dead-lettered unconfirmed.
func TestCheckBackReadsLongAnswers(t *testing.T) {
	pad := strings.Repeat("p", 100<<10)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"detail":%q,"status":"commit"}`, pad)
	}))
	defer hs.Close()
	var clock atomic.Int64
	clock.Store(t0)
	keys := preparedKeys(t)
	p := startPrepared(t, keys, &clock, hs.URL+"/check")
	if st, body := post(t, p.url+"?prepare=1", pev("long")); st != 202 {
		t.Fatalf("prepare: %d %v", st, body)
	}
	clock.Store(t0 + 30_000)
	if n, err := p.srv.checker.checkDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("check-back: %d %v", n, err)
	}
	if got := fmt.Sprint(p.ids(t, keys.Events)); got != "[long]" {
		t.Fatalf("after a commit answer the stream has %s", got)
	}
	if s := p.status(t); s.Prepared != 0 || s.Steps["confirmed"] != 1 {
		t.Fatalf("status %+v", s)
	}
}
