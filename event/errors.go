package event

import (
	"errors"
	"strings"
)

// ErrInvalid is matched by every validation error (errors.Is).
var ErrInvalid = errors.New("invalid event")

// Problem is one thing wrong with an event: the field and why.
type Problem struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// InvalidError lists everything wrong with an event.
type InvalidError struct {
	Problems []Problem
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		if p.Field != "" {
			b.WriteString(p.Field)
			b.WriteString(": ")
		}
		b.WriteString(p.Reason)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

type problems []Problem

func (p *problems) add(field, reason string) { *p = append(*p, Problem{Field: field, Reason: reason}) }

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &InvalidError{Problems: p}
}
