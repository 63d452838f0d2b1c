package backfill

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress shows a run's progress on the terminal.
type Progress interface {
	// Start begins; total is the records expected, -1 when unknown.
	Start(total int64)
	// Add counts n more records appended.
	Add(n int)
	// Finish ends the display.
	Finish()
}

type nopProgress struct{}

func (nopProgress) Start(int64) {}
func (nopProgress) Add(int)     {}
func (nopProgress) Finish()     {}

// NewBar is a progress bar for a terminal (github.com/schollz/progressbar):
// records, records/s and, when the total is known, the ETA.
func NewBar(w io.Writer, runID string) Progress { return &bar{w: w, runID: runID} }

type bar struct {
	w     io.Writer
	runID string
	b     *progressbar.ProgressBar
}

func (p *bar) Start(total int64) {
	p.b = progressbar.NewOptions64(total, progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription("backfill "+p.runID), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("records"), progressbar.OptionSetPredictTime(total > 0),
		progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetWidth(30),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }))
}

func (p *bar) Add(n int) {
	if p.b != nil {
		_ = p.b.Add(n)
	}
}

func (p *bar) Finish() {
	if p.b != nil {
		_ = p.b.Finish()
		p.b = nil
	}
}

// NewLines writes one plain line every interval while a run goes on, for
// a stderr that is not a terminal: "backfill RUN: N records, R records/s"
// and ", ETA D" when the total is known.
func NewLines(w io.Writer, runID string, every time.Duration, now func() time.Time) Progress {
	if now == nil {
		now = time.Now
	}
	return &lines{w: w, runID: runID, every: every, now: now}
}

type lines struct {
	w      io.Writer
	runID  string
	every  time.Duration
	now    func() time.Time
	mu     sync.Mutex
	total  int64
	n      int64
	start  time.Time
	last   time.Time
	closed bool
}

func (p *lines) Start(total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.start, p.last = total, p.now(), p.now()
}

func (p *lines) Add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += int64(n)
	if now := p.now(); now.Sub(p.last) >= p.every {
		p.last = now
		p.print(now)
	}
}

func (p *lines) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		p.print(p.now())
	}
}

func (p *lines) print(now time.Time) {
	el := now.Sub(p.start).Seconds()
	perSec := 0.0
	if el > 0 {
		perSec = float64(p.n) / el
	}
	s := fmt.Sprintf("backfill %s: %d records, %.0f records/s", p.runID, p.n, perSec)
	if p.total > 0 {
		s += fmt.Sprintf(" of %d", p.total)
		if perSec > 0 && p.n < p.total {
			s += ", ETA " + (time.Duration(float64(p.total-p.n)/perSec) * time.Second).Round(time.Second).String()
		}
	}
	fmt.Fprintln(p.w, s)
}
