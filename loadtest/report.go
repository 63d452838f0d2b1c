package loadtest

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// LevelResult is what one level of a run measured.
type LevelResult struct {
	Name          string
	Mode          string
	OfferedRate   int
	Duration      time.Duration
	Sent          []Sent
	Ingest        Percentiles
	EndToEnd      Percentiles // events that went straight through: not parked, not retried
	EndToEndAll   Percentiles // every delivered event, waits for parents and retries included
	Waited        map[string]bool
	AchievedRate  float64 // accepted events per second of sending
	DeliveredRate float64 // partner arrivals per second, from first send to last arrival
	PartnerCalls  int
	Samples       []Sample
	Verdict       Verdict
	Arrivals      []Arrival
}

// Report is a whole run.
type Report struct {
	Started time.Time
	Setup   string
	Levels  []LevelResult
	Notes   []string
}

// Write puts report.md and the plots into dir.
func (r Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Load run %s\n\n%s\n\n", r.Started.UTC().Format(time.RFC3339), r.Setup)
	verdict := "PASS: zero loss — every accepted event ended delivered, skipped or dead with a reason"
	for _, l := range r.Levels {
		if !l.Verdict.OK() {
			verdict = "FAIL: events lost (accepted, with no terminal step): see the levels below"
		}
	}
	fmt.Fprintf(&b, "**Verdict: %s.**\n\n", verdict)
	fmt.Fprintf(&b, "| level | mode | offered/s | achieved/s | delivered/s | ingest p50 / p90 / p99 / max | end to end, straight through: p50 / p90 / p99 / max | end to end, all (parent waits, retries) p50 / p99 | peak lag | peak delayed | peak retrying | CPU avg / peak (cores) | RSS peak | partner calls per event | verdict |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, l := range r.Levels {
		var lag, del, ret int64
		var cpuSum, cpuPeak, rss float64
		for _, s := range l.Samples {
			lag, del, ret = max(lag, s.Lag), max(del, s.Delayed), max(ret, s.Retrying)
			cpuSum += s.CPU
			cpuPeak, rss = max(cpuPeak, s.CPU), max(rss, s.RSSMB)
		}
		cpuAvg := 0.0
		if len(l.Samples) > 0 {
			cpuAvg = cpuSum / float64(len(l.Samples))
		}
		perEvent := 0.0
		if l.Verdict.Accepted > 0 {
			perEvent = float64(l.PartnerCalls) / float64(l.Verdict.Accepted)
		}
		v := "zero loss"
		if !l.Verdict.OK() {
			v = fmt.Sprintf("**%d lost**", len(l.Verdict.Missing))
		}
		all := "–"
		if l.EndToEndAll.N > 0 {
			all = dur(l.EndToEndAll.P50) + " / " + dur(l.EndToEndAll.P99)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.0f | %.0f | %s | %s | %s | %d | %d | %d | %.2f / %.2f | %.0f MB | %.2f | %s |\n",
			l.Name, l.Mode, l.OfferedRate, l.AchievedRate, l.DeliveredRate, pcts(l.Ingest), pcts(l.EndToEnd), all, lag, del, ret, cpuAvg, cpuPeak, rss, perEvent, v)
	}
	b.WriteString("\n## Accounting per level\n\n| level | sent | accepted | refused at ingest | delivered | skipped | dead | invalid | lost |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, l := range r.Levels {
		v := l.Verdict
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d | %d |\n", l.Name, v.Sent, v.Accepted, v.Refused, v.Delivered, v.Skipped, v.Dead, v.Invalid, len(v.Missing))
	}
	for _, l := range r.Levels {
		if len(l.Verdict.RefusedReasons) > 0 {
			fmt.Fprintf(&b, "\nRefused at ingest in %s (the producer got the reason; malformed events are meant to be):\n\n", l.Name)
			for _, k := range sortedKeys(l.Verdict.RefusedReasons) {
				fmt.Fprintf(&b, "- %d × `%s`\n", l.Verdict.RefusedReasons[k], strings.ReplaceAll(k, "`", "'"))
			}
		}
		if n := len(l.Verdict.Missing); n > 0 {
			fmt.Fprintf(&b, "\nLost in %s (%d): %s\n", l.Name, n, strings.Join(l.Verdict.Missing[:min(n, 50)], ", "))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n%s\n", n)
	}
	b.WriteString("\n![end-to-end latency](latency.png)\n![throughput](throughput.png)\n![backlog](backlog.png)\n![pipeline resources](resources.png)\n")
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	return r.plots(dir)
}

func pcts(p Percentiles) string {
	if p.N == 0 {
		return "–"
	}
	return dur(p.P50) + " / " + dur(p.P90) + " / " + dur(p.P99) + " / " + dur(p.Max)
}

func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%dµs", d.Microseconds())
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// plots draws latency, throughput, backlog and resources over the run's time.
func (r Report) plots(dir string) error {
	t0 := r.Started
	sec := func(t time.Time) float64 { return t.Sub(t0).Seconds() }
	// Per-second buckets of end-to-end latency (by arrival) and of counts.
	type bucket struct{ lat []time.Duration }
	lat := map[int]*bucket{}
	sentPer, arrPer := map[int]float64{}, map[int]float64{}
	for _, l := range r.Levels {
		sentAt := map[string]time.Time{}
		for _, s := range l.Sent {
			if s.Accepted {
				sentPer[int(sec(s.At))]++
				sentAt[s.ID] = s.At
			}
		}
		for _, a := range l.Arrivals {
			k := int(sec(a.At))
			arrPer[k]++
			if at, ok := sentAt[a.ID]; ok {
				if lat[k] == nil {
					lat[k] = &bucket{}
				}
				lat[k].lat = append(lat[k].lat, a.At.Sub(at))
			}
		}
	}
	var p50, p99 plotter.XYs
	for _, k := range sortedInts(lat) {
		p := Percentile(lat[k].lat)
		p50 = append(p50, plotter.XY{X: float64(k), Y: float64(p.P50) / 1e6})
		p99 = append(p99, plotter.XY{X: float64(k), Y: float64(p.P99) / 1e6})
	}
	if err := linePlot(filepath.Join(dir, "latency.png"), "End-to-end latency, sent → partner, all delivered events (parent waits included), per second", "ms",
		[]string{"p50", "p99"}, []plotter.XYs{p50, p99}); err != nil {
		return err
	}
	if err := linePlot(filepath.Join(dir, "throughput.png"), "Throughput per second", "events/s",
		[]string{"accepted", "arrived at partner"}, []plotter.XYs{series(sentPer), series(arrPer)}); err != nil {
		return err
	}
	var lag, delayed, retrying, cpu, rss plotter.XYs
	for _, l := range r.Levels {
		for _, s := range l.Samples {
			x := sec(s.At)
			lag = append(lag, plotter.XY{X: x, Y: float64(s.Lag + s.Pending)})
			delayed = append(delayed, plotter.XY{X: x, Y: float64(s.Delayed)})
			retrying = append(retrying, plotter.XY{X: x, Y: float64(s.Retrying)})
			cpu = append(cpu, plotter.XY{X: x, Y: s.CPU * 100})
			rss = append(rss, plotter.XY{X: x, Y: s.RSSMB})
		}
	}
	if err := linePlot(filepath.Join(dir, "backlog.png"), "Backlog", "events",
		[]string{"stream lag + pending", "delayed (parked)", "retrying"}, []plotter.XYs{lag, delayed, retrying}); err != nil {
		return err
	}
	return linePlot(filepath.Join(dir, "resources.png"), "Pipeline process", "CPU % of one core / RSS MB",
		[]string{"CPU %", "RSS MB"}, []plotter.XYs{cpu, rss})
}

func series(m map[int]float64) plotter.XYs {
	var out plotter.XYs
	for _, k := range sortedInts(m) {
		out = append(out, plotter.XY{X: float64(k), Y: m[k]})
	}
	return out
}

func sortedInts[V any](m map[int]V) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

func linePlot(path, title, ylabel string, names []string, data []plotter.XYs) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "seconds into the run"
	p.Y.Label.Text = ylabel
	p.Add(plotter.NewGrid())
	for i, d := range data {
		if len(d) == 0 {
			continue
		}
		l, err := plotter.NewLine(d)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.2)
		p.Add(l)
		p.Legend.Add(names[i], l)
	}
	p.Legend.Top = true
	p.BackgroundColor = color.White
	return p.Save(9*vg.Inch, 4*vg.Inch, path)
}
