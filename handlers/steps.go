package handlers

import (
	"time"

	"github.com/streamsync/streamsync/event"
)

// The steps' names, in the order they run (package tracing names its spans
// after them).
const (
	NameValidate = "validate"
	NameSync     = "sync" // op=sync: the record read from the source (docs/backfill.md)
	NameLoop     = "loop"
	NameLedger   = "ledger"
	NameTwoWay   = "twoway" // a two-way partner's echoes and conflicts (docs/partners.md)
	NameGate     = "gate"
	NameDeliver  = "deliver"
)

// Middleware wraps one step, told its name; NewSteps puts it around every
// step alike. tracing.Tracer.Wrap is one: a span per step.
type Middleware func(name string, s StepFunc) StepFunc

// StepsConfig is what the steps need.
type StepsConfig struct {
	Limits event.Limits
	// Records reads our source for op=sync events; nil (source.kind none)
	// makes them invalid. OnSourceFailure, when set, is told of every
	// failed read.
	Records         RecordReader
	OnSourceFailure func()
	PartnerName     string // an event of this origin is the partner's own change
	Retry           RetryPolicy
	MaxWait         time.Duration // a child's wait for a parent never seen
	Recheck         time.Duration // a parked child is looked at again this often at the latest
	Sender          Sender
	// TwoWay, when set, runs after the ledger step for the events of a
	// two-way partner's pipelines: echoes and conflicts (package twoway).
	TwoWay StepFunc
}

// Steps are what every event goes through, in this order:
//
//	validate → sync → loop → ledger → [twoway] → gate → deliver
//
// Validate reads the stream entry (Work.Fields) into Work.Event and
// Work.Meta. The pipeline then looks up what the others need — the ledger's
// entries for the record and its parent, where the parent waits — and
// takes the account's lease; Run runs the others until one of them gives
// an Outcome.
type Steps struct {
	Validate StepFunc
	Run      StepFunc
}

// NewSteps puts the steps in their order, each wrapped by wrap; a nil wrap
// wraps nothing.
func NewSteps(c StepsConfig, wrap Middleware) Steps {
	if wrap == nil {
		wrap = func(_ string, s StepFunc) StepFunc { return s }
	}
	run := []StepFunc{
		wrap(NameSync, SyncRead(c.Records, c.Retry, c.OnSourceFailure)),
		wrap(NameLoop, LoopFilter(c.PartnerName)),
		wrap(NameLedger, LedgerGuard()),
	}
	if c.TwoWay != nil {
		run = append(run, wrap(NameTwoWay, c.TwoWay))
	}
	run = append(run, wrap(NameGate, DependencyGate(c.MaxWait, c.Recheck)), wrap(NameDeliver, Deliver(c.Sender, c.Retry, c.Recheck)))
	return Steps{Validate: wrap(NameValidate, ValidateEntry(c.Limits)), Run: Chain(run...)}
}
