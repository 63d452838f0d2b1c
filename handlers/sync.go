package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/streamsync/streamsync/event"
)

// SourceRecord is a record's current state as our source has it.
type SourceRecord struct {
	Version int64
	Data    json.RawMessage
}

// RecordReader reads one record of our source (docs/reconcile.md). found is false
// when the source does not have the record. An error wrapping
// ErrSourceTransient may pass when the read is tried again.
type RecordReader interface {
	Read(ctx context.Context, entity, key string) (rec SourceRecord, found bool, err error)
}

// ErrSourceTransient marks a source failure worth trying again (timeouts,
// connection errors, 408, 429, 5xx).
var ErrSourceTransient = errors.New("source failed transiently")

// NoSourceError is the dead_error of a sync event when no source is
// configured (docs/reconcile.md).
const NoSourceError = "op=sync needs a source to read the record from, and source.kind is none: " +
	"set source.kind to http (with source.base_url) or file (with source.file)"

// SyncRead turns a trigger-query event (op=sync, docs/backfill.md) into the change
// it stands for, reading the record's current state from r: an upsert with
// the source's version and data, or, when the source no longer has the
// record, a delete with the ledger's version + 1 (skipped_stale when the
// ledger has no record of it either). The resolved event then goes through
// the ledger guard, the gate and delivery like any other; its
// Idempotency-Key is "<id>:<version sent>". A transient source failure is
// retried with backoff, counted in Meta.SourceFails apart from partner calls,
// and dead-lettered exhausted after retry.MaxAttempts failed reads; any other
// source failure dead-letters it rejected. With r nil (source.kind none) the
// event is invalid. onFailure, when set, is told of every failed read.
// Events of other ops pass untouched.
func SyncRead(r RecordReader, retry RetryPolicy, onFailure func()) StepFunc {
	return func(ctx context.Context, w *Work) (*Outcome, error) {
		e := w.Event
		if e.Op != event.OpSync {
			return nil, nil
		}
		if r == nil {
			return &Outcome{Step: StepInvalid, DeadReason: ReasonInvalid, Error: NoSourceError}, nil
		}
		rec, found, err := r.Read(ctx, e.Entity, e.Key)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("sync %s: %w: %w", e.ID, ErrAborted, err)
			}
			if onFailure != nil {
				onFailure()
			}
			return sourceFailed(w, retry, err), nil
		}
		if !found {
			if !w.Record.Found {
				return &Outcome{Step: StepSkippedStale, Attempt: w.Meta.Attempts,
					Error: "the source does not have the record and the ledger has no record of it: nothing to delete"}, nil
			}
			if w.Record.Version == math.MaxInt64 {
				// no version is newer: a ledger pushed as high as it goes
				return &Outcome{Step: StepSkippedStale, Attempt: w.Meta.Attempts,
					Error: "the source does not have the record and the ledger's version is 9223372036854775807: no delete can be newer (mend the ledger: streamsync ledger set)"}, nil
			}
			e.Op, e.Version, e.Data = event.OpDelete, w.Record.Version+1, nil
		} else {
			e.Op, e.Version, e.Data = event.OpUpsert, rec.Version, rec.Data
		}
		e.IdempotencyKey = e.ID + ":" + strconv.FormatInt(e.Version, 10)
		w.Event = e
		return nil, nil
	}
}

func sourceFailed(w *Work, retry RetryPolicy, err error) *Outcome {
	m := w.Meta
	m.SourceFails++
	o := &Outcome{Attempt: w.Meta.Attempts, Meta: m}
	switch {
	case !errors.Is(err, ErrSourceTransient):
		o.Step, o.DeadReason, o.Error = StepDead, ReasonRejected, "source read: "+err.Error()
	case m.SourceFails >= retry.MaxAttempts:
		o.Step, o.DeadReason, o.Error = StepDead, ReasonExhausted,
			fmt.Sprintf("source read: %v (source read %d of %d)", err, m.SourceFails, retry.MaxAttempts)
	default:
		o.Step, o.Error, o.Due = StepRetryScheduled, "source read: "+err.Error(), w.Now.Add(retry.Backoff(m.SourceFails))
	}
	return o
}
