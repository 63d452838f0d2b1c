package main

import (
	"fmt"
	"strings"
	"time"
)

// Ack is one event the ingest answered 202 for: the record it writes and
// the version it carries.
type Ack struct {
	Key     string
	Version int64
	At      time.Time // when the 202 came
}

// Write is one PUT the partner answered, from partnersim's own log, in the
// order it answered them (Seq).
type Write struct {
	Seq     int64
	At      time.Time // when it arrived
	Key     string
	Version int64
	Status  int
}

// Row is one fault's line of the table.
type Row struct {
	Fault        string
	WaitReplicas int
	Sent         int // events the producer made
	Acked        int // of them, answered 202 (a refused request is resent until it is)
	Refused      int // ingest answers other than 202 (each resent)
	// Delivered counts the distinct events (record, version) the partner
	// answered 2xx at least once.
	Delivered int
	// Lost counts acknowledged events whose record the partner holds at a
	// lower version at the end: neither they nor a later version arrived.
	Lost int
	// Redelivered counts the distinct events that reached the partner again
	// after a 2xx for them (answered from its idempotency store, or refused
	// as stale).
	Redelivered int
	// Down counts 2xx writes that set a record to a lower version than a
	// 2xx write before them.
	Down int
	// Resume is from the fault's end to the next 2xx write at the partner;
	// AckResume to the next 202 of the ingest; -1 when none came.
	Resume, AckResume time.Duration
	// Slowest is the longest an acknowledged event took from its 202 to
	// its first 2xx at the partner (events overtaken by a later version
	// not counted).
	Slowest time.Duration
	// Unlogged counts delivered events with no delivered step in the
	// attempt log once its export settled (faults with the log on).
	Unlogged int
	// OutboxLeft counts the outbox rows not relayed at the end (faults
	// with the outbox).
	OutboxLeft int
	Note       string
}

// Tally counts one fault's row: sent events, the acknowledged ones, the
// partner's log of writes, the version each record has at the partner at
// the end, and when the fault ended.
func Tally(fault string, sent int, acks []Ack, log []Write, final map[string]int64, faultEnd time.Time) Row {
	r := Row{Fault: fault, Sent: sent, Acked: len(acks), Resume: -1, AckResume: -1}
	type ev struct {
		key string
		v   int64
	}
	applied := map[ev]bool{}
	first := map[ev]time.Time{}
	again := map[ev]bool{}
	high := map[string]int64{}
	for _, w := range log {
		e := ev{w.Key, w.Version}
		if applied[e] {
			again[e] = true
		}
		if w.Status/100 != 2 {
			continue
		}
		if !applied[e] {
			first[e] = w.At
		}
		applied[e] = true
		if h, ok := high[w.Key]; ok && w.Version < h {
			r.Down++
		}
		if w.Version > high[w.Key] {
			high[w.Key] = w.Version
		}
		if !w.At.Before(faultEnd) && (r.Resume < 0 || w.At.Sub(faultEnd) < r.Resume) {
			r.Resume = w.At.Sub(faultEnd)
		}
	}
	r.Delivered, r.Redelivered = len(applied), len(again)
	for _, a := range acks {
		if final[a.Key] < a.Version {
			r.Lost++
		}
		if at, ok := first[ev{a.Key, a.Version}]; ok && at.Sub(a.At) > r.Slowest {
			r.Slowest = at.Sub(a.At)
		}
		if !a.At.Before(faultEnd) && (r.AckResume < 0 || a.At.Sub(faultEnd) < r.AckResume) {
			r.AckResume = a.At.Sub(faultEnd)
		}
	}
	return r
}

// Header is the table's head, in markdown.
const Header = "| fault | wait_replicas | sent | 202 | refused, resent | delivered | lost | redelivered | versions down | next 202 after | next delivery after | slowest delivery |\n" +
	"|---|---|---|---|---|---|---|---|---|---|---|---|"

// Markdown is the row as a line of the table.
func (r Row) Markdown() string {
	after := func(d time.Duration) string {
		if d < 0 {
			return "never"
		}
		return d.Round(10 * time.Millisecond).String()
	}
	f := r.Fault
	if r.Note != "" {
		f += " (" + r.Note + ")"
	}
	cells := []string{f, fmt.Sprint(r.WaitReplicas), num(r.Sent), num(r.Acked), num(r.Refused), num(r.Delivered),
		num(r.Lost), num(r.Redelivered), num(r.Down), after(r.AckResume), after(r.Resume), after(r.Slowest)}
	return "| " + strings.Join(cells, " | ") + " |"
}

// num writes n with thousands separated by commas, as the docs do.
func num(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Misses names the rules the row breaks: nothing lost where a replica
// acknowledged every write (wait_replicas ≥ 1), no version down anywhere,
// a delivery after the fault, every delivered event in the attempt log and
// every outbox row relayed.
func (r Row) Misses() []string {
	var m []string
	if r.WaitReplicas >= 1 && r.Lost > 0 {
		m = append(m, fmt.Sprintf("%d acknowledged events lost with wait_replicas %d", r.Lost, r.WaitReplicas))
	}
	if r.Down > 0 {
		m = append(m, fmt.Sprintf("%d versions went down at the partner", r.Down))
	}
	if r.Resume < 0 {
		m = append(m, "no delivery after the fault")
	}
	if r.AckResume < 0 {
		m = append(m, "no event acknowledged after the fault")
	}
	if r.Unlogged > 0 {
		m = append(m, fmt.Sprintf("%d delivered events have no row in the attempt log", r.Unlogged))
	}
	if r.OutboxLeft > 0 {
		m = append(m, fmt.Sprintf("%d outbox rows were never relayed", r.OutboxLeft))
	}
	return m
}
